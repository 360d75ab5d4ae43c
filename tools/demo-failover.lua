-- Failover demo helper, run through drhost against the simulator (tools/demo-failover.sh):
--   drhost tools/demo-failover.lua outage REGION MODE   -> the simulator's region outage switch (503|drop|hang)
--   drhost tools/demo-failover.lua restore REGION       -> the region answers again
--   drhost tools/demo-failover.lua sql ENV STATEMENT    -> one statement on ENV's replication warehouse
-- Only ever talks to the simulator's endpoints from the environment (tools/with-sim.sh).
local json = require("json")
local http = require("http")

local function admin(method, path, body)
  local base = assert(os.getenv("DRHOST_SIM_ADMIN"), "DRHOST_SIM_ADMIN not set (run under tools/with-sim.sh)")
  local r = http.request{ method = method, url = base .. path, body = body and json.encode(body) or nil,
    headers = { ["Content-Type"] = "application/json" } }
  if r.status >= 300 then error("simulator admin " .. method .. " " .. path .. ": HTTP " .. r.status .. " " .. tostring(r.body), 0) end
  return r.body ~= "" and json.decode(r.body) or nil
end

local cmd = arg[1]
if cmd == "outage" then
  local o = admin("POST", "/outages", { region = arg[2], mode = arg[3] or "drop" })
  print(string.format("simulator: region %s is down (%s) since %s", o.region, o.mode, o.since))
elseif cmd == "restore" then
  admin("DELETE", "/outages?region=" .. arg[2])
  print("simulator: region " .. arg[2] .. " answers again")
elseif cmd == "sql" then
  local out = require("deploy.outputs").read(arg[2])
  local ws = require("databricks").workspace{ host = out.workspace_url, credential = require("auth").from_env() }
  local conn = require("sql").connect{ workspace = ws, warehouse_id = out.warehouse_id }
  local meta = conn:exec(arg[3])
  print(string.format("%s: %s -> %s", arg[2], arg[3], json.encode(meta.rows)))
else
  io.stderr:write("usage: drhost tools/demo-failover.lua outage REGION MODE | restore REGION | sql ENV STATEMENT\n")
  os.exit(2)
end
