-- drhost tools/demo-bundle-drift.lua assets|drift|fix HOST...: the parity demo's workspace changes.
--   assets PROD_HOST DR_HOST  the platform's own assets, the same in both regions: a cluster policy,
--                             a SQL warehouse, a secret scope with two keys
--   drift DR_HOST             someone resumes the dr job's schedule by hand and deletes a secret
--   fix DR_HOST               the secret is put back (the job is fixed by redeploying the bundle)
--   federation NAME SUBJECT   a Databricks service principal NAME with a federation policy for the
--                             GitHub OIDC SUBJECT (as docs/cicd.md's set-up); prints its application id
local auth = require("auth")
local databricks = require("databricks")

local JOB = "daily-revenue-rollup"
local mode = ...
local hosts = { select(2, ...) }
local cred = auth.from_env()
local function ws(h) return databricks.workspace{ host = h, credential = cred } end

local function secret(w, key, region)
  w:post("/api/2.0/secrets/put", { scope = "etl", key = key, string_value = "demo-" .. region .. "-" .. key })
end

if mode == "assets" and #hosts == 2 then
  for i, h in ipairs(hosts) do
    local w, region = ws(h), i == 1 and "prod" or "dr"
    w:post("/api/2.0/policies/clusters/create", { name = "jobs-small", max_clusters_per_user = 2,
      definition = '{"autotermination_minutes":{"type":"range","maxValue":60},"num_workers":{"type":"range","maxValue":4}}' })
    w:post("/api/2.0/sql/warehouses", { name = "bi", cluster_size = "Small", enable_serverless_compute = true,
      warehouse_type = "PRO", auto_stop_mins = 10 })
    w:post("/api/2.0/secrets/scopes/create", { scope = "etl" })
    secret(w, "api-key", region)
    secret(w, "db-password", region)
  end
  print("demo: a cluster policy, a SQL warehouse and a secret scope in both regions")
elseif mode == "drift" and #hosts == 1 then
  local w = ws(hosts[1])
  local j = w:list("/api/2.2/jobs/list", { name = JOB }, "jobs")[1]
  assert(j, "no job " .. JOB .. " in " .. hosts[1])
  local s = w:get("/api/2.2/jobs/get", { job_id = tostring(j.job_id) }).settings
  s.schedule.pause_status = "UNPAUSED"
  w:post("/api/2.2/jobs/update", { job_id = j.job_id, new_settings = { schedule = s.schedule } })
  w:post("/api/2.0/secrets/delete", { scope = "etl", key = "db-password" })
  print(string.format("demo: in %s someone resumed %s (job %s) by hand and deleted etl/db-password",
    hosts[1], JOB, tostring(j.job_id)))
elseif mode == "fix" and #hosts == 1 then
  secret(ws(hosts[1]), "db-password", "dr")
  print("demo: etl/db-password put back in dr")
elseif mode == "federation" and #hosts == 2 then
  local acct = databricks.account{ host = os.getenv("DATABRICKS_ACCOUNT_HOST"), account_id = os.getenv("DATABRICKS_ACCOUNT_ID"),
                                   credential = cred }
  local sp = acct:post("/scim/v2/ServicePrincipals", { displayName = hosts[1] })
  acct:post("/servicePrincipals/" .. sp.id .. "/federationPolicies", {
    description = "GitHub Actions deploys of the bundle",
    oidc_policy = { issuer = os.getenv("AZURE_AUTHORITY_HOST") .. "/github-oidc", subject = hosts[2],
                    audiences = { os.getenv("DATABRICKS_ACCOUNT_ID") } } })
  print(sp.applicationId)
else
  io.stderr:write("usage: drhost tools/demo-bundle-drift.lua assets PROD_HOST DR_HOST | drift DR_HOST | fix DR_HOST"
    .. " | federation NAME SUBJECT\n")
  os.exit(2)
end
