-- KEYS: ns:APP:_sessions, ns:APP:_users, ns:SESSIONS, ns:APP:us:ID
-- ARGV: now, app, id, handle, ns:APP:, ns:APP:us:, cache channel, then the flags when sent
-- Kills the live session of the id whose handle this is, looking only among
-- the id's tokens, exactly as kill does; returns its token, else nil.
read_flags(ARGV[8])
local now, app, id, wanted = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local bad = check_types({{KEYS[4], 'set'}})
if bad then return bad end
for _, token in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  if handle_of(token) == wanted then
    local hash = ARGV[5] .. token
    local f = load_live(hash, now)
    -- A hash that names another id is not this user's session.
    if f and f[1] == id then
      bad = check_types({{KEYS[1], 'zset'}, {KEYS[3], 'zset'}, {KEYS[2], 'zset'}})
      if bad then return bad end
      kill_one(hash, ARGV[6], KEYS[1], KEYS[3], KEYS[2], ARGV[7], app, token, id, 'killed')
      return token
    end
  end
end
return nil
