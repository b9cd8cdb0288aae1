-- KEYS: ns:APP:_sessions, ns:APP:_users, ns:SESSIONS, session hash, the session hash under the token
-- ARGV: app, stored name, token, ns:APP:us:
-- hashTokens 'migrate': moves a session stored under its token (the
-- reference's way) to its hashed name and marks it, as rotate moves a
-- session: the hash renamed whole, each index entry moved with its score.
-- A session already marked is a hashed one whose stored name was given as a
-- token: refused. Returns 1 when the hashed name holds a session now (moved
-- here, or by a call that raced this one), else 0.
if redis.call('EXISTS', KEYS[4]) == 1 then return 1 end
local f = redis.call('HMGET', KEYS[5], 'id', 'la', 'ttl', 'hashed')
if not f[1] or f[4] then return 0 end
local app, stored, token, id = ARGV[1], ARGV[2], ARGV[3], f[1]
local user_key = ARGV[4] .. id
local bad = check_types({{KEYS[1], 'zset'}, {user_key, 'set'}, {KEYS[3], 'zset'}})
if bad then return bad end
local member, expiry_member = token .. ':' .. id, app .. ':' .. token .. ':' .. id
-- A session missing from an index (another program's doing) gets the entry it should have had.
local active = redis.call('ZSCORE', KEYS[1], member) or num(f[2])
local expires = redis.call('ZSCORE', KEYS[3], expiry_member) or num(f[2]) + num(f[3])
if expires ~= expires then expires = 0 end
if active ~= active then active = 0 end
redis.call('RENAME', KEYS[5], KEYS[4])
redis.call('HSET', KEYS[4], 'hashed', '1')
redis.call('ZREM', KEYS[1], member)
redis.call('ZADD', KEYS[1], active, stored .. ':' .. id)
redis.call('SREM', user_key, token)
redis.call('SADD', user_key, stored)
redis.call('ZREM', KEYS[3], expiry_member)
redis.call('ZADD', KEYS[3], expires, app .. ':' .. stored .. ':' .. id)
return 1
