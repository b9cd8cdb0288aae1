-- KEYS: ns:APP:_sessions, ns:APP:_users, ns:SESSIONS, ns:APP:us:ID
-- ARGV: app, id, ns:APP:, cache channel, the stored name of the session kept ('' for none), then the flags when sent
-- Returns how many session hashes were deleted. The kept session (the
-- caller's own, with `except`) stays with every entry of its index, so the id
-- stays in _users with it.
read_flags(ARGV[6])
local tokens = redis.call('SMEMBERS', KEYS[4])
if #tokens == 0 then return 0 end
local bad = check_types({{KEYS[1], 'zset'}, {KEYS[3], 'zset'}, {KEYS[2], 'zset'}})
if bad then return bad end
local app, id, kept = ARGV[1], ARGV[2], ARGV[5]
local total = 0
for _, token in ipairs(tokens) do
  if token ~= kept then
    redis.call('ZREM', KEYS[1], token .. ':' .. id)
    redis.call('SREM', KEYS[4], token)
    redis.call('ZREM', KEYS[3], app .. ':' .. token .. ':' .. id)
    local killed = redis.call('DEL', ARGV[3] .. token)
    total = total + killed
    if killed == 1 then emit('killed', app, id, token) end
    redis.call('PUBLISH', ARGV[4], app .. ':' .. token)
  end
end
if redis.call('EXISTS', KEYS[4]) == 0 then redis.call('ZREM', KEYS[2], id) end
return total
