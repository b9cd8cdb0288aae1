-- KEYS: ns:APP:us:ID
-- ARGV: ns:APP:
-- Returns the fields of every session of the id.
local out = {}
for _, token in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  out[#out + 1] = redis.call('HMGET', ARGV[1] .. token, unpack(FIELDS))
end
return out
