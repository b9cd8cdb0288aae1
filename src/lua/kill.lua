-- KEYS: ns:APP:_sessions, ns:APP:_users, ns:SESSIONS, session hash
-- ARGV: now, app, token, ns:APP:us:, cache channel, then the flags when sent
-- Returns 1 when a live session was killed, else 0.
read_flags(ARGV[6])
local f = load_live(KEYS[4], tonumber(ARGV[1]), true)
if not f then return 0 end
local bad = check_types({{KEYS[1], 'zset'}, {ARGV[4] .. f[1], 'set'}, {KEYS[3], 'zset'}, {KEYS[2], 'zset'}})
if bad then return bad end
return kill_one(KEYS[4], ARGV[4], KEYS[1], KEYS[3], KEYS[2], ARGV[5], ARGV[2], ARGV[3], f[1], 'killed')
