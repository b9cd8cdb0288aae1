-- Shared by every script below; each file is appended to this one.
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

-- A counter another program garbled: refused before anything is written.
local function check_counter(name, value)
  if value and not string.match(value, '^%-?%d+$') then
    return redis.error_reply('ERR session has a ' .. name .. ' that is not an integer')
  end
end

-- The reference's _createMultiStatement: refresh the indexes of a used session.
local function touch(hash, sessions_key, users_key, all_key, now, app, token, id, ttl, no_resave)
  if ttl ~= ttl then
    return redis.error_reply('ERR session has a ttl that is not a number')
  end
  redis.call('ZADD', sessions_key, now, token .. ':' .. id)
  redis.call('ZADD', users_key, now, id)
  redis.call('ZADD', all_key, now + ttl, app .. ':' .. token .. ':' .. id)
  if no_resave then redis.call('HSET', hash, 'ttl', ttl) end
end

-- The reference's _kill: the hash and every index entry; the id leaves _users
-- with its last session.
local function kill_one(hash, user_prefix, sessions_key, all_key, users_key, channel, app, token, id)
  redis.call('ZREM', sessions_key, token .. ':' .. id)
  redis.call('SREM', user_prefix .. id, token)
  redis.call('ZREM', all_key, app .. ':' .. token .. ':' .. id)
  local killed = redis.call('DEL', hash)
  if redis.call('EXISTS', user_prefix .. id) == 0 then
    redis.call('ZREM', users_key, id)
  end
  redis.call('PUBLISH', channel, app .. ':' .. token)
  return killed
end

-- TOKEN:ID where the token is 64 characters, so ids may hold ':'.
local function split_member(m)
  if #m >= 65 and string.sub(m, 65, 65) == ':' then
    return string.sub(m, 1, 64), string.sub(m, 66)
  end
  local token, id = string.match(m, '^([^:]*):?(.*)$')
  return token, id
end

