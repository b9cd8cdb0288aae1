-- Session events (option events); shared by the scripts that make them.
-- A session event, TYPE:APP:HANDLE:ID (HANDLE: handle.lua's of the stored name).
-- A rotation also names the handle before it: rotated:APP:HANDLE:PREVIOUS:ID.
local function emit(kind, app, id, name, previous)
  if EVENTS then
    local handles = handle_of(name)
    if previous then handles = handles .. ':' .. handle_of(previous) end
    redis.call(PUBLISH, EVENTS, kind .. ':' .. app .. ':' .. handles .. ':' .. id)
  end
end

