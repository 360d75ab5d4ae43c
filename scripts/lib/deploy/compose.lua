-- Composes the declared estate of one environment from its components: hub + spokes (from the map)
-- + workspace catalogs + replication prerequisites, and the outputs other tools read (deploy.outputs).
local resource = require("deploy.resource")
local hub_c = require("deploy.components.hub")
local spoke_c = require("deploy.components.spoke")
local catalog_c = require("deploy.components.catalog")
local repl_c = require("deploy.components.replication")
local C = require("deploy.components.common")
local lazy = require("deploy.lazy")

local M = {}

--- build(env, ctx) -> stack. ctx.getenv reads the process environment (ids), ctx.subscription_id.
function M.build(env, ctx)
  ctx = ctx or {}
  local sub = ctx.subscription_id or C.require_env(ctx, "AZURE_SUBSCRIPTION_ID", "the Azure subscription to deploy into")
  local s = resource.stack{ subscription_id = sub }
  local hub = hub_c.build(s, env, ctx)
  local spokes, workspaces = {}, {}
  for _, name in ipairs(hub_c.spoke_names(env)) do
    local spec = env.spokes[name]
    local sp = spoke_c.build(s, env, hub, name, spec)
    spokes[#spokes + 1] = sp
    workspaces[#workspaces + 1] = catalog_c.build(s, env, hub, sp, spec, { replication_ws = spokes[1] })
  end
  local repl = repl_c.build(s, env, hub, spokes, ctx, workspaces)

  s:output("env", env.name)
  s:output("region", env.region)
  s:output("role", env.role)
  s:output("metastore_id", hub.metastore_id)
  s:output("global_metastore_id", repl.global_id)
  s:output("peer_global_metastore_id", repl.peer_global_id)
  s:output("ncc_id", hub.ncc_id)
  s:output("key_vault_id", lazy.ref(hub.vault, "id"))
  s:output("firewall_private_ip", hub.firewall_ip)
  s:output("webauth_workspace_id", lazy.ref(hub.webauth, "id"))
  local ws_out = {}
  for i, sp in ipairs(spokes) do
    ws_out[sp.name] = { url = sp.workspace_url, workspace_id = sp.workspace_id, arm_id = lazy.ref(sp.workspace, "id"),
      catalog = workspaces[i].catalog_name }
  end
  s:output("workspaces", ws_out)
  s:output("primary_workspace", spokes[1].name)
  s:output("primary_workspace_url", spokes[1].workspace_url)
  s:output("workspace_url", spokes[1].workspace_url)     -- the replication workspace of this region
  s:output("sharing", { recipient = repl.settings.recipient, share_prefix = repl.settings.share_prefix,
    catalog_prefix = repl.settings.catalog_prefix })
  s:output("warehouse_id", lazy.ref(repl.warehouse, "id"))
  if env.role == "secondary" then
    s:output("job_id", lazy.ref(repl.job, "job_id"))
    s:output("provider_name", lazy.ref(repl.provider, "name"))
  end
  if env.entry_point then
    -- the name clients use (docs/failover.md, "Entry point"): created pointing at this region's
    -- replication workspace; from then on failover.lua owns its target, so the plan ignores it
    local ep = env.entry_point
    local host = lazy.fn(function(u) return (tostring(u):gsub("^https?://", ""):gsub("/.*$", "")) end, spokes[1].workspace_url)
    s:arm{ addr = "entry_point.cname", type = "Microsoft.Network/dnsZones/CNAME", api_version = "2018-05-01",
      id = ep.zone_id .. "/CNAME/" .. ep.record, ignore = { "properties.CNAMERecord.cname" },
      depends_on = { spokes[1].workspace },
      body = { properties = { TTL = ep.ttl or 60, CNAMERecord = { cname = host } } } }
    s:output("entry_point", { zone_id = ep.zone_id, record = ep.record, ttl = ep.ttl or 60 })
  end
  M.last = { hub = hub, spokes = spokes, workspaces = workspaces, replication = repl }
  return s, M.last
end

return M
