-- Reading a session hash; shared by the scripts that do.
local FIELDS = {'id', 'r', 'w', 'ttl', 'd', 'la', 'ip', 'no_resave'}

-- JavaScript's Number(): absent or blank is 0, garbage is NaN.
local function num(s)
  if not s or not string.find(s, '%S') then return 0 end
  return tonumber(s) or 0 / 0
end

-- The session's fields, ttl and idle time, or nil when it is missing or idled out
-- (the same rule as session::decode).
local function load_live(key, now)
  local f = redis.call('HMGET', key, unpack(FIELDS))
  if not f[1] then return nil end
  local ttl = num(f[4])
  local idle = now - num(f[6])
  if ttl < idle then return nil end
  return f, ttl, idle
end

