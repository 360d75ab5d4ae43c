-- drhost scripts/deploy.lua ENV [plan|apply|destroy|refresh|import|output|force-unlock|validate]
-- Deploys the secure hub-and-spoke estate of one environment (env/ENV.lua). See docs/deploy.md.
-- Errors go to the host, which prints them (docs/host.md, "Errors"); a USAGE error exits 2.
local cli = require("deploy.cli")
os.exit(cli.main({ ... }) or 0, true)
