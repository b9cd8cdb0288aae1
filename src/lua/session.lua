-- Reading a session hash; shared by the scripts that do.
-- 'ends' is ours (create's maxAge: the unix second the session ends); the reference ignores it.
-- 'hashed' too: hashTokens' marker (session.rs's MARKER).
local FIELDS = {'id', 'r', 'w', 'ttl', 'd', 'la', 'ip', 'no_resave', 'ends', 'hashed'}
-- The end of the session load_live last found live, or nil: touch caps the
-- SESSIONS score at it, so the wipe removes the session when it ends.
local loaded_ends = nil

-- JavaScript's Number(): absent or blank is 0, garbage is NaN.
local function num(s)
  if not s or not string.find(s, '%S') then return 0 end
  return tonumber(s) or 0 / 0
end

-- The session's fields, ttl and idle time, or nil when it is missing, idled out
-- or past its end (the same rule as session::decode). `by_token`: the key was
-- made from what a caller gave as a token, so a session marked as hashed is
-- refused (its stored name is no token) unless the flags say it was hashed.
local function load_live(key, now, by_token)
  local f = redis.call('HMGET', key, unpack(FIELDS))
  if not f[1] then return nil end
  if by_token and f[10] and not HASHED then return nil end
  local ttl = num(f[4])
  local idle = now - num(f[6])
  if ttl < idle then return nil end
  local ends = tonumber(f[9])
  if ends and now >= ends then return nil end
  loaded_ends = ends
  return f, ttl, idle
end

