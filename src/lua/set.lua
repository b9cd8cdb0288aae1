-- KEYS: session hash, ns:APP:_sessions, ns:APP:_users, ns:SESSIONS
-- ARGV: now, app, token, cache channel, then pairs of (key as JSON, value as JSON or '' to delete)
-- Returns the fields as they were, then the new w and the new d (nil when empty), or nil.
--
-- d is merged here, not in the client, so concurrent sets never lose each other's keys.
-- The stored text is kept as written: values are copied, never re-encoded.

-- Splits a JSON object into {key text, value text} pairs; nil if it is not one.
local function scan_object(s)
  local i, n = 1, #s
  local function skip_ws() i = string.find(s, '[^ \t\r\n]', i) or n + 1 end
  local function string_end(p)
    local q = p + 1
    while true do
      local c = string.find(s, '["\\]', q)
      if not c then return nil end
      if string.sub(s, c, c) == '"' then return c end
      q = c + 2
    end
  end
  local function value_end(p)
    local c = string.sub(s, p, p)
    if c == '"' then return string_end(p) end
    if c == '{' or c == '[' then
      local depth, q = 0, p
      while q <= n do
        local ch = string.sub(s, q, q)
        if ch == '"' then
          q = string_end(q)
          if not q then return nil end
        elseif ch == '{' or ch == '[' then
          depth = depth + 1
        elseif ch == '}' or ch == ']' then
          depth = depth - 1
          if depth == 0 then return q end
        end
        q = q + 1
      end
      return nil
    end
    local e = string.find(s, '[,}%] \t\r\n]', p)
    if not e or e == p then return nil end
    return e - 1
  end
  local out = {}
  skip_ws()
  if string.sub(s, i, i) ~= '{' then return nil end
  i = i + 1
  skip_ws()
  if string.sub(s, i, i) == '}' then return out end
  while true do
    if string.sub(s, i, i) ~= '"' then return nil end
    local key_end = string_end(i)
    if not key_end then return nil end
    local key = string.sub(s, i, key_end)
    i = key_end + 1
    skip_ws()
    if string.sub(s, i, i) ~= ':' then return nil end
    i = i + 1
    skip_ws()
    local v_end = value_end(i)
    if not v_end then return nil end
    out[#out + 1] = {key, string.sub(s, i, v_end)}
    i = v_end + 1
    skip_ws()
    local c = string.sub(s, i, i)
    if c == '}' then return out end
    if c ~= ',' then return nil end
    i = i + 1
    skip_ws()
  end
end

local now = tonumber(ARGV[1])
local f, ttl, idle = load_live(KEYS[1], now)
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
for i = 5, #ARGV, 2 do
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
local err = touch(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], f[1], ttl, no_resave)
if err then return err end
local w = redis.call('HINCRBY', KEYS[1], 'w', 1)
if idle > 1 then redis.call('HSET', KEYS[1], 'la', ARGV[1]) end
local d = false
if #parts > 0 then
  d = '{' .. table.concat(parts, ',') .. '}'
  redis.call('HSET', KEYS[1], 'd', d)
else
  redis.call('HDEL', KEYS[1], 'd')
end
redis.call('PUBLISH', ARGV[4], ARGV[2] .. ':' .. ARGV[3])
f[9] = w
f[10] = d
return f
