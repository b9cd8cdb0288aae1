-- KEYS: ns:APP:_sessions, ns:APP:_users, ns:SESSIONS, ns:APP:us:ID
-- ARGV: now, app, token, id, expiry score, max, ns:APP:, cache channel, then the hash's field/value pairs,
--       then the flags when sent (an odd count of arguments after the eighth)
-- create with `max`: writes what create's MULTI writes, then kills the id's
-- live sessions beyond `max`, the new one kept. Killed first: the least
-- recently active (lowest la), then the earliest created (the time a token
-- ends with), then the lowest token. Sessions idled out or past their end
-- are not counted; the wipe removes them. Returns the tokens it killed.
-- With max '' (events on, no max) it only writes, and publishes 'created'.
local bad = check_types({{KEYS[1], 'zset'}, {KEYS[2], 'zset'}, {KEYS[3], 'zset'}, {KEYS[4], 'set'}})
if bad then return bad end
local last_pair = #ARGV
if (#ARGV - 8) % 2 == 1 then
  read_flags(ARGV[#ARGV])
  last_pair = #ARGV - 1
end
local now, app, token, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local max, prefix, channel = tonumber(ARGV[6]), ARGV[7], ARGV[8]
redis.call('ZADD', KEYS[1], now, token .. ':' .. id)
redis.call('ZADD', KEYS[2], now, id)
redis.call('ZADD', KEYS[3], ARGV[5], app .. ':' .. token .. ':' .. id)
redis.call('SADD', KEYS[4], token)
redis.call('HSET', prefix .. token, unpack(ARGV, 9, last_pair))
emit('created', app, id, token)
if not max then return {} end

local others = {}
for _, other in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  if other ~= token then
    local f = load_live(prefix .. other, tonumber(now))
    if f then
      -- Tokens are 55 random characters, 'Z', then the creation time in milliseconds in base 36.
      local created = tonumber(string.sub(other, 57), 36) or 0
      local la = num(f[6])
      if la ~= la then la = 0 end -- a garbled la sorts first, not into an invalid order
      others[#others + 1] = {la, created, other}
    end
  end
end
local killed = {}
local excess = #others - (max - 1)
if excess <= 0 then return killed end
table.sort(others, function(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  if a[2] ~= b[2] then return a[2] < b[2] end
  return a[3] < b[3]
end)
for i = 1, excess do
  local victim = others[i][3]
  kill_one(prefix .. victim, prefix .. 'us:', KEYS[1], KEYS[3], KEYS[2], channel, app, victim, id, 'evicted')
  killed[#killed + 1] = victim
end
return killed
