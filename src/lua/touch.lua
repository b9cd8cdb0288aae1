-- Refreshing a used session; shared by get and set.
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

