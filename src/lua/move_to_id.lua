-- KEYS: ns:APP:_sessions, ns:APP:_users, ns:SESSIONS, session hash
-- ARGV: now, app, token, new id, ns:APP:us:, cache channel, then the flags when sent
-- moveToId: the live session becomes the new id's, keeping its token, its
-- data and its counters. Each index entry moves with its score, so the
-- session's activity and expiry stay; the old id leaves _users with its last
-- session, as kill does. Returns 1 when the session is the new id's (moved
-- or already), 0 when there is no live session.
read_flags(ARGV[7])
local f = load_live(KEYS[4], tonumber(ARGV[1]), true)
if not f then return 0 end
local app, token, old, new = ARGV[2], ARGV[3], f[1], ARGV[4]
if old == new then return 1 end
local old_key, new_key = ARGV[5] .. old, ARGV[5] .. new
local bad = check_types({{KEYS[1], 'zset'}, {KEYS[2], 'zset'}, {KEYS[3], 'zset'}, {old_key, 'set'}, {new_key, 'set'}})
if bad then return bad end
local member, expiry_member = token .. ':' .. old, app .. ':' .. token .. ':' .. old
-- A session missing from an index (another program's doing) gets the entry it should have had.
local active = redis.call('ZSCORE', KEYS[1], member) or num(f[6])
local expires = redis.call('ZSCORE', KEYS[3], expiry_member) or num(f[6]) + num(f[4])
redis.call('ZREM', KEYS[1], member)
redis.call('ZADD', KEYS[1], active, token .. ':' .. new)
redis.call('ZREM', KEYS[3], expiry_member)
redis.call('ZADD', KEYS[3], expires, app .. ':' .. token .. ':' .. new)
redis.call('SREM', old_key, token)
if redis.call('EXISTS', old_key) == 0 then redis.call('ZREM', KEYS[2], old) end
redis.call('SADD', new_key, token)
local seen = tonumber(redis.call('ZSCORE', KEYS[2], new))
if not seen or seen < tonumber(active) then redis.call('ZADD', KEYS[2], active, new) end
redis.call('HSET', KEYS[4], 'id', new)
redis.call('PUBLISH', ARGV[6], app .. ':' .. token)
return 1
