-- KEYS: ns:APP:_sessions, ns:APP:_users, ns:SESSIONS, session hash, the new token's session hash
-- ARGV: now, app, token, new token, ns:APP:us:, cache channel, then the flags when sent
-- Moves a live session to the new token. The hash is renamed whole, so every
-- field stays, those this script does not know included; each index entry
-- moves with its score, so neither the session's activity nor its expiry
-- changes (_users names the id, which stays). Returns the session's id when
-- moved (so that in cluster mode its id's bucket can list the new name), 0
-- when there is no live session.
read_flags(ARGV[7])
local f, ttl = load_live(KEYS[4], tonumber(ARGV[1]), true)
if not f then return 0 end
if redis.call('EXISTS', KEYS[5]) == 1 then
  return redis.error_reply('ERR a session already has the new token')
end
local app, token, new_token, id = ARGV[2], ARGV[3], ARGV[4], f[1]
local user_key = ARGV[5] .. id
local bad = check_types({{KEYS[1], 'zset'}, {user_key, 'set'}, {KEYS[3], 'zset'}})
if bad then return bad end
local member, expiry_member = token .. ':' .. id, app .. ':' .. token .. ':' .. id
-- A session missing from an index (another program's doing) gets the entry it should have had.
local active = redis.call('ZSCORE', KEYS[1], member) or num(f[6])
local expires = redis.call('ZSCORE', KEYS[3], expiry_member) or num(f[6]) + ttl
redis.call('RENAME', KEYS[4], KEYS[5])
redis.call('ZREM', KEYS[1], member)
redis.call('ZADD', KEYS[1], active, new_token .. ':' .. id)
redis.call('SREM', user_key, token)
redis.call('SADD', user_key, new_token)
redis.call('ZREM', KEYS[3], expiry_member)
redis.call('ZADD', KEYS[3], expires, app .. ':' .. new_token .. ':' .. id)
redis.call('PUBLISH', ARGV[6], app .. ':' .. token)
emit('rotated', app, id, new_token, token)
return id
