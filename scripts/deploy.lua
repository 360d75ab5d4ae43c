-- drhost scripts/deploy.lua ENV [plan|apply|destroy|refresh|import|output|force-unlock|validate]
-- Deploys the secure hub-and-spoke estate of one environment (env/ENV.lua). See docs/deploy.md.
local cli = require("deploy.cli")
local args = {}
for i = 1, #arg do args[i] = arg[i] end
local ok, code = pcall(cli.main, args)
if not ok then
  local e = code
  local text = (type(e) == "table" and e.code) and (tostring(e.code) .. ": " .. tostring(e.message)) or tostring(e)
  io.stderr:write("deploy: ", text, "\n")
  if type(e) == "table" and e.holder then
    io.stderr:write("  held by: ", tostring(e.holder), " since ", tostring(e.since), "\n")
  end
  if type(e) == "table" and e.where and e.code ~= "USAGE" then io.stderr:write("  at ", tostring(e.where), "\n") end
  -- a usage error exits 2 (docs/host.md)
  os.exit((type(e) == "table" and e.code == "USAGE") and 2 or 1)
end
os.exit(code or 0)
