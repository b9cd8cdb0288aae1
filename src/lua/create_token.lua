-- KEYS: ns:APP:_sessions, ns:APP:_users, ns:SESSIONS, session hash
-- ARGV: now, app, token, id, expiry score, ns:APP:us:, then the hash's field/value pairs,
--       then the flags when sent (an odd count of arguments after the sixth)
-- createWithToken: writes what create writes, under the token given, only
-- when no hash has that token, so it never overwrites or revives a session.
-- Returns 1 when created, 0 when the token is taken.
local last_pair = #ARGV
if (#ARGV - 6) % 2 == 1 then
  read_flags(ARGV[#ARGV])
  last_pair = #ARGV - 1
end
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
local now, app, token, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local user_key = ARGV[6] .. id
local bad = check_types({{KEYS[1], 'zset'}, {KEYS[2], 'zset'}, {KEYS[3], 'zset'}, {user_key, 'set'}})
if bad then return bad end
redis.call('ZADD', KEYS[1], now, token .. ':' .. id)
redis.call('ZADD', KEYS[2], now, id)
redis.call('ZADD', KEYS[3], ARGV[5], app .. ':' .. token .. ':' .. id)
redis.call('SADD', user_key, token)
redis.call('HSET', KEYS[4], unpack(ARGV, 7, last_pair))
emit('created', app, id, token)
return 1
