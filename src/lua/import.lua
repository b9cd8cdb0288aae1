-- KEYS: the record of this copy, session hash, ns:APP:_sessions, ns:APP:_users,
--       ns:SESSIONS, ns:APP:us:ID (one bucket: one slot)
-- ARGV: the record's expiry (unix seconds), the session's expiry (its SESSIONS score), la,
--       token, id, app, then the hash's field/value pairs
-- Copies one session, unless an earlier run copied it (the record says so: the
-- session may have been killed or changed here since) or a session is at its
-- key already (never written over). Returns 1 when copied, 0 when copied
-- before, 2 when a session was there. Every outcome keeps the record at least
-- until the given expiry, so it lives as long as the source session could.
local until_ = tonumber(ARGV[1])
local function remember()
  local held = tonumber(redis.call('GET', KEYS[1]))
  if not held or until_ > held then
    redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[1])
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  remember()
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  remember()
  return 2
end
local expires, la, token, id, app = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
redis.call('HSET', KEYS[2], unpack(ARGV, 7))
redis.call('ZADD', KEYS[3], la, token .. ':' .. id)
redis.call('ZADD', KEYS[4], 'GT', la, id)
redis.call('ZADD', KEYS[5], expires, app .. ':' .. token .. ':' .. id)
redis.call('SADD', KEYS[6], token)
remember()
return 1
