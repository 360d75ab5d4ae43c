-- drhost tools/demo-bundle-drift.lua HOST JOB_NAME: the demo's drift -- someone resumes a dr job's
-- schedule by hand (Jobs API update), which the parity check must report.
local auth = require("auth")
local databricks = require("databricks")
local host, name = ...
assert(host and name, "usage: drhost tools/demo-bundle-drift.lua HOST JOB_NAME")
local ws = databricks.workspace{ host = host, credential = auth.from_env() }
local j = ws:list("/api/2.2/jobs/list", { name = name }, "jobs")[1]
assert(j, "no job " .. name .. " in " .. host)
local s = ws:get("/api/2.2/jobs/get", { job_id = tostring(j.job_id) }).settings
s.schedule.pause_status = "UNPAUSED"
ws:post("/api/2.2/jobs/update", { job_id = j.job_id, new_settings = { schedule = s.schedule } })
print(string.format("demo: resumed the schedule of %s (job %s) in %s by hand", name, tostring(j.job_id), host))
