-- IPv4 CIDR helpers: parse, subnet (like Terraform's cidrsubnet), overlap.
local M = {}

--- parse("10.0.0.0/16") -> {ip = int, prefix = 16, first = int, last = int} or nil, why
function M.parse(s)
  if type(s) ~= "string" then return nil, "not a string" end
  local a, b, c, d, p = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)/(%d+)$")
  if not a then return nil, "not of the form a.b.c.d/n" end
  local octets = { tonumber(a), tonumber(b), tonumber(c), tonumber(d) }
  for _, o in ipairs(octets) do
    if o > 255 then return nil, "octet " .. o .. " out of range" end
  end
  local prefix = tonumber(p)
  if prefix > 32 then return nil, "prefix /" .. prefix .. " out of range" end
  local ip = ((octets[1] * 256 + octets[2]) * 256 + octets[3]) * 256 + octets[4]
  local size = 1 << (32 - prefix)
  if ip % size ~= 0 then
    return nil, "host bits set (the network address of /" .. prefix .. " would be " ..
      M.format(ip - ip % size, prefix) .. ")"
  end
  return { ip = ip, prefix = prefix, first = ip, last = ip + size - 1 }
end

function M.format(ip, prefix)
  return string.format("%d.%d.%d.%d/%d", (ip >> 24) & 255, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, prefix)
end

function M.host(ip)
  return string.format("%d.%d.%d.%d", (ip >> 24) & 255, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255)
end

--- subnet("10.0.0.0/16", 8, 2) -> "10.0.2.0/24"
function M.subnet(s, newbits, num)
  local c = assert(M.parse(s))
  local prefix = c.prefix + newbits
  assert(prefix <= 32, "subnet: prefix too long")
  assert(num < (1 << newbits), "subnet: number out of range")
  return M.format(c.ip + num * (1 << (32 - prefix)), prefix)
end

function M.overlap(a, b)
  local x, y = M.parse(a), M.parse(b)
  if not x or not y then return false end
  return x.first <= y.last and y.first <= x.last
end

return M
