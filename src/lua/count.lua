-- KEYS: ns:APP:_sessions, ns:APP:_users, ns:SESSIONS
-- ARGV: now, app, ns:APP:
-- The app's live sessions without reading them: every member of _sessions
-- (ZCARD) but those that have ended. An ended session lingers in the indexes
-- until the wipe removes it; SESSIONS scores each session with when it may
-- end (what the wipe reads), so only the app's members scored up to now are
-- read, each counted out unless its hash says it is live.
local now, app, prefix = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local total = redis.call('ZCARD', KEYS[1])
if total == 0 then return 0 end
local mine = app .. ':'
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])) do
  if string.sub(m, 1, #mine) == mine then
    local token = split_member(string.sub(m, #mine + 1))
    if not load_live(prefix .. token, now) then total = total - 1 end
  end
end
return math.max(total, 0)
