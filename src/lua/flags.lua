-- The optional last ARGV of a script, sent only when an option needs it
-- (scripts.rs's Flags): 'h' when the session is named by its hashed name
-- (hashTokens: a session marked as hashed is accepted), 'p' when by its
-- token; then, with events on, 'P' (PUBLISH) or 'S' (cluster mode) and the
-- events channel. 'S' on Redis 7 or later: SPUBLISH on the bucket's own
-- channel, {NS:B:K}:events, in the slot of the keys (KEYS[1] has the
-- bucket's prefix); before 7, PUBLISH on the channel given. Absent: by
-- token, no events.
local HASHED, EVENTS, PUBLISH = false, nil, 'PUBLISH'
local function read_flags(text)
  if not text then return end
  HASHED = string.sub(text, 1, 1) == 'h'
  if #text > 2 then
    EVENTS = string.sub(text, 3)
    local bucket = string.match(KEYS[1] or '', '^{[^}]*}:')
    if string.sub(text, 2, 2) == 'S' and bucket and (redis.REDIS_VERSION_NUM or 0) >= 0x070000 then
      PUBLISH, EVENTS = 'SPUBLISH', bucket .. 'events'
    end
  end
end

