-- KEYS: ns:APP:_sessions
-- ARGV: lowest last-activity score, ns:APP:
-- Returns the fields of the app's sessions active since then, most recent first.
local out = {}
for _, m in ipairs(redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', ARGV[1])) do
  local token = split_member(m)
  out[#out + 1] = redis.call('HMGET', ARGV[2] .. token, unpack(FIELDS))
end
return out
