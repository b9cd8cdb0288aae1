-- KEYS: ns:APP:_sessions, ns:APP:_users, ns:SESSIONS, session hash
-- ARGV: now, app, token, new ttl or '' to keep the session's, cache channel, then the flags when sent
-- The touch operation: get's refresh and read count and, with a ttl, a new
-- idle timeout from now (for a no_resave session, a new fixed expiry ttl
-- seconds from now), which cached answers are told about.
-- Returns the fields as they were before, or nil.
read_flags(ARGV[6])
local refused, f, ttl, idle, no_resave = load_read(KEYS[4], tonumber(ARGV[1]))
if refused ~= nil then return refused end
local new_ttl = tonumber(ARGV[4])
if new_ttl then
  ttl = new_ttl
elseif no_resave then
  ttl = ttl - idle
end
local err = touch(KEYS[4], KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], f[1], ttl, no_resave)
if err then return err end
redis.call('HINCRBY', KEYS[4], 'r', 1)
if new_ttl then
  -- la exactly now: the expiry is la + ttl, and ttl is written as given.
  redis.call('HSET', KEYS[4], 'ttl', ARGV[4], 'la', ARGV[1])
  redis.call('PUBLISH', ARGV[5], ARGV[2] .. ':' .. ARGV[3])
elseif idle > 1 then
  redis.call('HSET', KEYS[4], 'la', ARGV[1])
end
return f
