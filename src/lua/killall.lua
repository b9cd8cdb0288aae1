-- KEYS: ns:APP:_sessions, ns:APP:_users, ns:SESSIONS
-- ARGV: app, ns:APP:, cache channel, batch size, then the flags when sent
-- Kills up to one batch of the app's sessions; returns {removed, seen}.
read_flags(ARGV[5])
local members = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[4]) - 1)
local app, prefix = ARGV[1], ARGV[2]
if #members > 0 then
  local bad = check_types({{KEYS[2], 'zset'}, {KEYS[3], 'zset'}})
  if bad then return bad end
end
local removed = 0
local users_done = {}
for _, m in ipairs(members) do
  local token, id = split_member(m)
  removed = removed + redis.call('ZREM', KEYS[1], m)
  redis.call('ZREM', KEYS[3], app .. ':' .. m)
  if redis.call('DEL', prefix .. token) == 1 then emit('killed', app, id, token) end
  if not users_done[id] then
    users_done[id] = true
    redis.call('ZREM', KEYS[2], id)
    redis.call('DEL', prefix .. 'us:' .. id)
  end
  redis.call('PUBLISH', ARGV[3], app .. ':' .. token)
end
return {removed, #members}
