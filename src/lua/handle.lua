-- A session's device handle; shared by the scripts that name sessions by it.
-- The first 16 hex digits of SHA-1 over 'handle:' and the token, as
-- handle::of computes it (handle.rs says why).
local function handle_of(token)
  return string.sub(redis.sha1hex('handle:' .. token), 1, 16)
end

