-- Refreshing a used session; shared by get and set.
-- A counter another program garbled: refused before anything is written.
-- HINCRBY reads Redis's own integer syntax (no '+', no leading zero) within
-- 64 bits and fails at the largest one, after the script's earlier writes.
local INT64_MAX = '9223372036854775807'
local function check_counter(name, value)
  if not value or value == '0' then return end
  local sign, digits = string.match(value, '^(%-?)([1-9]%d*)$')
  local limit = sign == '-' and '9223372036854775808' or INT64_MAX
  if not digits or #digits > 19 or (#digits == 19 and digits > limit) then
    return redis.error_reply('ERR session has a ' .. name .. ' that is not an integer')
  end
  if sign == '' and digits == INT64_MAX then
    return redis.error_reply('ERR session has a ' .. name .. ' that is the largest integer and cannot count further')
  end
end

-- The reference's _createMultiStatement: refresh the indexes of a used session.
-- Unlike the kill scripts, get and set do not check the index keys' types
-- first: three TYPE calls make get cost Redis measurably more CPU (see
-- benchmark/NOTES.md), and such a key only makes a later ZADD fail after
-- refreshing the scores before it.
local function touch(hash, sessions_key, users_key, all_key, now, app, token, id, ttl, no_resave)
  if ttl ~= ttl then
    return redis.error_reply('ERR session has a ttl that is not a number')
  end
  redis.call('ZADD', sessions_key, now, token .. ':' .. id)
  redis.call('ZADD', users_key, now, id)
  local expires = now + ttl
  if loaded_ends and loaded_ends < expires then expires = loaded_ends end
  redis.call('ZADD', all_key, expires, app .. ':' .. token .. ':' .. id)
  if no_resave then redis.call('HSET', hash, 'ttl', ttl) end
end

