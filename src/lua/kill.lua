-- KEYS: session hash, ns:APP:_sessions, ns:SESSIONS, ns:APP:_users
-- ARGV: now, app, token, ns:APP:us:, cache channel
-- Returns 1 when a live session was killed, else 0.
local f = load_live(KEYS[1], tonumber(ARGV[1]))
if not f then return 0 end
local bad = check_types({{KEYS[2], 'zset'}, {ARGV[4] .. f[1], 'set'}, {KEYS[3], 'zset'}, {KEYS[4], 'zset'}})
if bad then return bad end
return kill_one(KEYS[1], ARGV[4], KEYS[2], KEYS[3], KEYS[4], ARGV[5], ARGV[2], ARGV[3], f[1])
