-- The optional last ARGV of a script, sent only when an option needs it
-- (scripts.rs's Flags): 'h' when the session is named by its hashed name
-- (hashTokens: a session marked as hashed is accepted), 'p' when by its
-- token; then, with events on, 'P' (PUBLISH) or 'S' (SPUBLISH) and the
-- events channel. Absent: by token, no events.
local HASHED, EVENTS, PUBLISH = false, nil, 'PUBLISH'
local function read_flags(text)
  if not text then return end
  HASHED = string.sub(text, 1, 1) == 'h'
  if #text > 2 then
    PUBLISH = string.sub(text, 2, 2) == 'S' and 'SPUBLISH' or 'PUBLISH'
    EVENTS = string.sub(text, 3)
  end
end

