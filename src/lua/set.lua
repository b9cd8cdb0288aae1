-- KEYS: ns:APP:_sessions, ns:APP:_users, ns:SESSIONS, session hash
-- ARGV: now, app, token, cache channel, then pairs of (key as JSON, value as JSON or '' to delete),
--       then the flags when sent (an odd count of arguments after the fourth)
-- Returns the fields as they were, then the new w and the new d (nil when empty), or nil.
--
-- d is merged here, not in the client, so concurrent sets never lose each other's keys.
-- The stored text is kept as written: values are copied, never re-encoded.

-- Splits a JSON object into {key text, value text} pairs; nil if it is not one.
-- Written for speed (set runs it on every call): one pattern match per key,
-- value and separator, in the common case of strings without escapes.
local function scan_object(s)
  local find, byte = string.find, string.byte
  -- The end of the string starting at p (a '"'), escapes allowed.
  local function string_end(p)
    local _, e = find(s, '^"[^"\\]*"', p)
    if e then return e end
    local q = p + 1
    while true do
      local c = find(s, '["\\]', q)
      if not c then return nil end
      if byte(s, c) == 34 then return c end
      q = c + 2
    end
  end
  local function value_end(p)
    local c = byte(s, p)
    if c == 34 then return string_end(p) end
    if c == 123 or c == 91 then
      local depth, q = 0, p
      while true do
        q = find(s, '["{}%[%]]', q)
        if not q then return nil end
        local ch = byte(s, q)
        if ch == 34 then
          q = string_end(q)
          if not q then return nil end
        elseif ch == 123 or ch == 91 then
          depth = depth + 1
        else
          depth = depth - 1
          if depth == 0 then return q end
        end
        q = q + 1
      end
    end
    local _, e = find(s, '^[^,}%] \t\r\n]+', p)
    return e
  end
  local out = {}
  local _, i = find(s, '^[ \t\r\n]*{[ \t\r\n]*')
  if not i then return nil end
  if byte(s, i + 1) == 125 then return out end
  i = i + 1
  while true do
    if byte(s, i) ~= 34 then return nil end
    local key_end = string_end(i)
    if not key_end then return nil end
    local _, colon = find(s, '^[ \t\r\n]*:[ \t\r\n]*', key_end + 1)
    if not colon then return nil end
    local v_end = value_end(colon + 1)
    if not v_end then return nil end
    out[#out + 1] = {string.sub(s, i, key_end), string.sub(s, colon + 1, v_end)}
    local _, sep = find(s, '^[ \t\r\n]*[,}]', v_end + 1)
    if not sep then return nil end
    if byte(s, sep) == 125 then return out end
    _, i = find(s, '^[ \t\r\n]*', sep + 1)
    i = i + 1
  end
end

local last_pair = #ARGV
if (#ARGV - 4) % 2 == 1 then
  read_flags(ARGV[#ARGV])
  last_pair = #ARGV - 1
end
local now = tonumber(ARGV[1])
local f, ttl, idle = load_live(KEYS[4], now, true)
if not f then return false end

local bad = check_counter('w', f[3])
if bad then return bad end

local entries, index = {}, {}
local function put(key, value)
  local at = index[key]
  if at then
    entries[at][2] = value
  elseif value then
    entries[#entries + 1] = {key, value}
    index[key] = #entries
  end
end
if f[5] and f[5] ~= '' then
  local stored = scan_object(f[5])
  if not stored then
    return redis.error_reply('ERR session has a d that is not a JSON object')
  end
  for _, kv in ipairs(stored) do put(kv[1], kv[2]) end
end
for i = 5, last_pair, 2 do
  local value = ARGV[i + 1]
  if value == '' then value = false end
  put(ARGV[i], value)
end

-- JavaScript puts array-index keys first, in numeric order.
local indexes, names = {}, {}
for _, kv in ipairs(entries) do
  if kv[2] then
    local digits = string.match(kv[1], '^"(%d+)"$')
    if digits and (digits == '0' or string.sub(digits, 1, 1) ~= '0')
        and #digits <= 10 and tonumber(digits) < 4294967295 then
      indexes[#indexes + 1] = {tonumber(digits), kv}
    else
      names[#names + 1] = kv
    end
  end
end
table.sort(indexes, function(a, b) return a[1] < b[1] end)
local parts = {}
for _, e in ipairs(indexes) do parts[#parts + 1] = e[2][1] .. ':' .. e[2][2] end
for _, kv in ipairs(names) do parts[#parts + 1] = kv[1] .. ':' .. kv[2] end

local no_resave = f[8] == '1'
if no_resave then ttl = ttl - idle end
local err = touch(KEYS[4], KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], f[1], ttl, no_resave)
if err then return err end
local w = redis.call('HINCRBY', KEYS[4], 'w', 1)
if idle > 1 then redis.call('HSET', KEYS[4], 'la', ARGV[1]) end
local d = false
if #parts > 0 then
  d = '{' .. table.concat(parts, ',') .. '}'
  redis.call('HSET', KEYS[4], 'd', d)
else
  redis.call('HDEL', KEYS[4], 'd')
end
redis.call('PUBLISH', ARGV[4], ARGV[2] .. ':' .. ARGV[3])
f[#FIELDS + 1] = w
f[#FIELDS + 2] = d
return f
