-- KEYS: ns:SESSIONS
-- ARGV: now, ns:, cache channel, batch size, then the flags when sent
-- Kills up to one batch of expired sessions of every app; returns how many it saw.
read_flags(ARGV[5])
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[4])
for _, m in ipairs(members) do
  local app, rest = string.match(m, '^([^:]*):(.*)$')
  if app then
    local token, id = split_member(rest)
    local p = ARGV[2] .. app .. ':'
    kill_one(p .. token, p .. 'us:', p .. '_sessions', KEYS[1], p .. '_users', ARGV[3], app, token, id, 'expired')
  end
  redis.call('ZREM', KEYS[1], m)
end
return #members
