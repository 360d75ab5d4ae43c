-- The replication job in dr (Jobs API 2.1 settings), created by the deployment of dr
-- (scripts/lib/deploy): a schedule from the environment, one launcher task that runs
-- `drhost scripts/replicate.lua dr sync --json` on a small job cluster, failure notifications, and
-- credentials read from a secret scope (never stored in the job). See docs/replication.md.
local errors = require("errors")

local M = {}

M.DEFAULTS = {
  name = "drhost-replication",
  workspace_root = "/Workspace/Shared/drhost",   -- where the deployment uploads bin/ and scripts/
  secret_scope = "drhost",
  spark_version = "15.4.x-scala2.12",            -- LTS runtime; the launcher only needs Python 3
  node_type_id = "Standard_D4ds_v5",
  timeout_seconds = 6 * 3600,
  env_name = "dr",
}

-- Secret keys the scope must hold (the deployment writes them; docs list them).
M.SECRET_KEYS = {
  AZURE_TENANT_ID = "azure-tenant-id",
  AZURE_CLIENT_ID = "azure-client-id",
  AZURE_CLIENT_SECRET = "azure-client-secret",
}

local function need(opts, k, what)
  if opts[k] == nil or opts[k] == "" then
    errors.raise{ code = "JOB_INVALID", message = "replicate.job.settings: `" .. k .. "` is required (" .. what .. ")" }
  end
end

-- opts: env (the dr environment table: replication_schedule), source_host, target_host,
-- source_warehouse_id, target_warehouse_id, notify (list of e-mail addresses), extra_env (more
-- environment variables for the task, e.g. the storage URLs the replication config reads), plus any
-- M.DEFAULTS field to override.
function M.settings(opts)
  opts = opts or {}
  for k, v in pairs(M.DEFAULTS) do if opts[k] == nil then opts[k] = v end end
  need(opts, "env", "the dr environment table, for replication_schedule")
  local sch = opts.env.replication_schedule
  if type(sch) ~= "table" or type(sch.quartz_cron) ~= "string" then
    errors.raise{ code = "JOB_INVALID", message = "replicate.job.settings: env.replication_schedule.quartz_cron is required" }
  end
  for _, k in ipairs({ "source_host", "target_host", "source_warehouse_id", "target_warehouse_id" }) do
    need(opts, k, "from the deployment outputs")
  end
  local env_vars = {
    DRHOST_HOME = opts.workspace_root,
    DRHOST_SOURCE_HOST = opts.source_host, DRHOST_SOURCE_WAREHOUSE_ID = opts.source_warehouse_id,
    DRHOST_TARGET_HOST = opts.target_host, DRHOST_TARGET_WAREHOUSE_ID = opts.target_warehouse_id,
    DRHOST_LOG_FORMAT = "json",
  }
  -- settings the replication config reads from the environment (env/dr.replication.lua):
  -- DRHOST_PROD_EXTERNAL_URL, DRHOST_DR_EXTERNAL_URL, DRHOST_REPLICATE_CATALOGS, DRHOST_RECIPIENT...
  for k, v in pairs(opts.extra_env or {}) do
    if type(k) ~= "string" or not k:match("^[A-Z][A-Z0-9_]*$") or M.SECRET_KEYS[k] then
      errors.raise{ code = "JOB_INVALID", message = "replicate.job.settings: extra_env key " .. tostring(k)
        .. " must be an upper-case variable name other than the credential variables" }
    end
    env_vars[k] = v
  end
  for var, key in pairs(M.SECRET_KEYS) do
    env_vars[var] = "{{secrets/" .. opts.secret_scope .. "/" .. key .. "}}"
  end
  local emails = opts.notify or {}
  return {
    name = opts.name .. "-" .. opts.env_name,
    tags = { ["managed-by"] = "drhost", purpose = "disaster-recovery" },
    max_concurrent_runs = 1,          -- two syncs never overlap
    timeout_seconds = opts.timeout_seconds,
    -- paused while dr is the active region (after a failover): nothing may clone into it
    schedule = { quartz_cron_expression = sch.quartz_cron, timezone_id = sch.timezone or "UTC",
      pause_status = opts.paused and "PAUSED" or "UNPAUSED" },
    email_notifications = { on_failure = emails, no_alert_for_skipped_runs = false },
    notification_settings = { no_alert_for_skipped_runs = false, no_alert_for_canceled_runs = false },
    job_clusters = { {
      job_cluster_key = "launcher",
      new_cluster = { spark_version = opts.spark_version, node_type_id = opts.node_type_id, num_workers = 0,
        data_security_mode = "SINGLE_USER",
        spark_conf = { ["spark.databricks.cluster.profile"] = "singleNode", ["spark.master"] = "local[*]" },
        custom_tags = { ResourceClass = "SingleNode" },
        spark_env_vars = env_vars },
    } },
    tasks = { {
      task_key = "replicate",
      description = "drhost scripts/replicate.lua " .. opts.env_name .. " sync --json",
      job_cluster_key = "launcher",
      spark_python_task = {
        python_file = opts.workspace_root .. "/scripts/lib/replicate/launcher.py",
        parameters = { opts.workspace_root .. "/bin/drhost", "scripts/replicate.lua", opts.env_name, "sync", "--json" },
      },
      max_retries = 0,                  -- a rerun is the next scheduled sync (it converges)
      timeout_seconds = opts.timeout_seconds,
    } },
  }
end

return M
