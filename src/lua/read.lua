-- The start of a read; shared by get and touch. Returns nil then the live
-- session's fields, ttl, idle time and whether it is no_resave; or the reply
-- the script returns instead: false (no session) or a garbled read counter's error.
local function load_read(key, now)
  local f, ttl, idle = load_live(key, now, true)
  if not f then return false end
  local bad = check_counter('r', f[2])
  if bad then return bad end
  return nil, f, ttl, idle, f[8] == '1'
end

