-- The secondary (disaster recovery) region: same shape as prod, its own address spaces (no
-- overlap with prod, checked), and the replication job's schedule. `replication` names the
-- replication config (owned by scripts/replicate.lua; see docs/replication.md).
return {
  name = "dr",
  role = "secondary",
  peer = "prod",
  region = "northeurope",
  prefix = "drh",
  hub = { cidr = "10.20.0.0/22" },
  spokes = {
    sales   = { cidr = "10.21.0.0/20" },
    finance = { cidr = "10.22.0.0/20" },
    ops     = { cidr = "10.23.0.0/20" },
  },
  front_end_private_link = true,
  dbfs_private_endpoints = true,
  tags = { env = "dr", owner = "data-platform", ["managed-by"] = "drhost" },
  identities = {
    admin_group = "drhost-admins",
    databricks_sp_object_id_env = "DRHOST_DATABRICKS_SP_OBJECT_ID",
    replication_sp_app_id_env = "DRHOST_REPLICATION_SP_APP_ID",
  },
  firewall = {
    allowed_fqdns = { "pypi-mirror.example.com", "maven-mirror.example.com", "cran-mirror.example.com" },
  },
  replication = "env/dr.replication.lua",
  replication_schedule = { quartz_cron = "0 0/30 * * * ?", timezone = "UTC" },
}
