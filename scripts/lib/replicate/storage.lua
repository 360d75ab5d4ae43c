-- Storage URL mapping: the primary's external locations to the secondary's. The longest matching
-- prefix wins; a prefix matches only at a path boundary (".../data" does not match ".../database").
-- An unmapped location fails the object that needs it, never the run.
local M = {}

local function trim_slash(s) return (s:gsub("/+$", "")) end

-- mapping: { [source_prefix] = target_prefix }. Returns the mapped URL, or nil and a message.
function M.map(url, mapping)
  if type(url) ~= "string" or url == "" then return nil, "no storage location" end
  local best, best_len
  for src, dst in pairs(mapping or {}) do
    local s = trim_slash(src)
    if #s > 0 and url:sub(1, #s) == s then
      local nextc = url:sub(#s + 1, #s + 1)
      if nextc == "" or nextc == "/" then
        if not best_len or #s > best_len then best, best_len = { s, trim_slash(dst) }, #s end
      end
    end
  end
  if not best then
    return nil, string.format("no storage mapping covers %s (add a prefix to `storage` in the replication config)", url)
  end
  return best[2] .. url:sub(best_len + 1)
end

return M
