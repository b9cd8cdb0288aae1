-- Killing one session; shared by kill and the wipe.
-- The reference's _kill: the hash and every index entry; the id leaves _users
-- with its last session. A session that was there makes the event `event`.
local function kill_one(hash, user_prefix, sessions_key, all_key, users_key, channel, app, token, id, event)
  redis.call('ZREM', sessions_key, token .. ':' .. id)
  redis.call('SREM', user_prefix .. id, token)
  redis.call('ZREM', all_key, app .. ':' .. token .. ':' .. id)
  local killed = redis.call('DEL', hash)
  if redis.call('EXISTS', user_prefix .. id) == 0 then
    redis.call('ZREM', users_key, id)
  end
  redis.call('PUBLISH', channel, app .. ':' .. token)
  if killed == 1 then emit(event, app, id, token) end
  return killed
end

