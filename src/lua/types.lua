-- Checks before writes; shared by the scripts that kill. A key another
-- program gave another type fails its command, and a script is not rolled
-- back: every key a script writes is checked before its first write.
-- `expected` is a list of {key, type}; an absent key is fine.
local function check_types(expected)
  for _, e in ipairs(expected) do
    local found = redis.call('TYPE', e[1]).ok
    if found ~= e[2] and found ~= 'none' then
      return redis.error_reply('WRONGTYPE ' .. e[1] .. ' is a ' .. found .. ', not a ' .. e[2])
    end
  end
end

