-- The primary region. Plain data, validated by scripts/lib/deploy/envfile.lua (reference:
-- docs/deploy.md, "Environment reference"). No ids here: tenant, subscription and principal ids
-- come from the environment variables named below.
return {
  name = "prod",
  role = "primary",
  peer = "dr",
  region = "westeurope",
  prefix = "drh",
  hub = { cidr = "10.10.0.0/22" },
  spokes = {
    sales   = { cidr = "10.11.0.0/20" },
    finance = { cidr = "10.12.0.0/20" },
    ops     = { cidr = "10.13.0.0/20" },
  },
  front_end_private_link = true,
  dbfs_private_endpoints = true,
  tags = { env = "prod", owner = "data-platform", ["managed-by"] = "drhost" },
  identities = {
    admin_group = "drhost-admins",
    databricks_sp_object_id_env = "DRHOST_DATABRICKS_SP_OBJECT_ID",
    replication_sp_app_id_env = "DRHOST_REPLICATION_SP_APP_ID",
  },
  firewall = {
    allowed_fqdns = { "pypi-mirror.example.com", "maven-mirror.example.com", "cran-mirror.example.com" },
  },
}
