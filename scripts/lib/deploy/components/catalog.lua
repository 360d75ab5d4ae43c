-- Unity Catalog objects of one workspace: a storage credential (the spoke's access connector),
-- external locations on the UC and external storage, an ISOLATED workspace catalog bound to its
-- workspace only, and grants to the admin group. Credential and locations are isolated too.
local lazy = require("deploy.lazy")

local ref = lazy.ref
local M = {}

function M.catalog_name(name, spec) return spec.catalog or name end

function M.build(s, env, _, sp, spec, opts)
  local name = sp.name
  local a = "ws." .. name .. "."
  local ws = sp.workspace_url
  local admin = env.identities.admin_group
  local w = { name = name, workspace = ws }
  local ready = { sp.metastore_assignment }
  w.credential = s:workspace_obj{ addr = a .. "storage_credential", kind = "storage_credential", workspace = ws,
    depends_on = { sp.metastore_assignment, sp.storage.uc.role, sp.storage.ext.role },
    body = { name = "sc-" .. env.name .. "-" .. name,
      azure_managed_identity = { access_connector_id = ref(sp.access_connector, "id") },
      isolation_mode = "ISOLATION_MODE_ISOLATED",
      comment = "drhost: access connector of spoke " .. name } }
  w.locations = {}
  for _, kind in ipairs({ "uc", "ext" }) do
    local st = sp.storage[kind]
    w.locations[kind] = s:workspace_obj{ addr = a .. "external_location_" .. kind, kind = "external_location",
      workspace = ws, depends_on = { w.credential, st.container, st.approval, st.pe },
      body = { name = "el-" .. env.name .. "-" .. name .. "-" .. kind, url = st.url,
        credential_name = "sc-" .. env.name .. "-" .. name, isolation_mode = "ISOLATION_MODE_ISOLATED",
        comment = "drhost: " .. (kind == "uc" and "managed storage of catalog " or "external data of ") .. name } }
  end
  local catalog = M.catalog_name(name, spec)
  w.catalog_name = catalog
  w.catalog = s:workspace_obj{ addr = a .. "catalog", kind = "catalog", workspace = ws,
    depends_on = { w.locations.uc },
    body = { name = catalog, storage_root = sp.storage.uc.url .. catalog,
      isolation_mode = "ISOLATED", comment = "drhost: workspace catalog of " .. name } }
  w.binding = s:workspace_obj{ addr = a .. "catalog_binding", kind = "workspace_binding", workspace = ws,
    depends_on = { w.catalog },
    body = { securable_type = "catalog", securable_name = catalog, workspace_id = sp.workspace_id,
      binding_type = "BINDING_TYPE_READ_WRITE" } }
  -- the region's replication workspace (the first spoke) reads (prod) or writes (dr) every
  -- workspace catalog: an extra binding, read-only on the primary
  if opts and opts.replication_ws and opts.replication_ws ~= sp then
    w.replication_binding = s:workspace_obj{ addr = a .. "catalog_binding_replication", kind = "workspace_binding",
      workspace = ws, depends_on = { w.catalog },
      body = { securable_type = "catalog", securable_name = catalog, workspace_id = opts.replication_ws.workspace_id,
        binding_type = env.role == "primary" and "BINDING_TYPE_READ_ONLY" or "BINDING_TYPE_READ_WRITE" } }
  end
  w.grants = s:workspace_obj{ addr = a .. "catalog_grants", kind = "grants", workspace = ws, depends_on = { w.catalog },
    body = { securable_type = "catalog", full_name = catalog, principal = admin, privileges = { "ALL_PRIVILEGES" } } }
  for _, kind in ipairs({ "uc", "ext" }) do
    s:workspace_obj{ addr = a .. "external_location_" .. kind .. "_grants", kind = "grants", workspace = ws,
      depends_on = { w.locations[kind] },
      body = { securable_type = "external_location", full_name = "el-" .. env.name .. "-" .. name .. "-" .. kind,
        principal = admin, privileges = { "ALL_PRIVILEGES" } } }
  end
  w.ready = ready
  return w
end

return M
