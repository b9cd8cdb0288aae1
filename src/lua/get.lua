-- KEYS: ns:APP:_sessions, ns:APP:_users, ns:SESSIONS, session hash
-- ARGV: now, app, token, then touchAfter (seconds) when it is on or flags are sent, then the flags
-- Returns the fields as they were before this read, or nil.
read_flags(ARGV[5])
local refused, f, ttl, idle, no_resave = load_read(KEYS[4], tonumber(ARGV[1]))
if refused ~= nil then return refused end
if no_resave then ttl = ttl - idle end
-- Lazy touch: inside the window a read writes nothing. A ttl not above the
-- window is always touched, or reads alone could never keep the session alive.
local touch_after = tonumber(ARGV[4])
if touch_after and idle < touch_after and ttl > touch_after then return f end
local err = touch(KEYS[4], KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], f[1], ttl, no_resave)
if err then return err end
redis.call('HINCRBY', KEYS[4], 'r', 1)
if idle > 1 then redis.call('HSET', KEYS[4], 'la', ARGV[1]) end
return f
