-- Parsing index members; shared by the scripts that do.
-- TOKEN:ID where the token is 64 characters, so ids may hold ':'.
local function split_member(m)
  if #m >= 65 and string.sub(m, 65, 65) == ':' then
    return string.sub(m, 1, 64), string.sub(m, 66)
  end
  local token, id = string.match(m, '^([^:]*):?(.*)$')
  return token, id
end

