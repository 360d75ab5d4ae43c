-- drhost scripts/replicate.lua ENV plan|apply FILE|sync|status [--json] [-out FILE]
-- Keeps the dr Unity Catalog metastore in step with prod (docs/replication.md).
local cli = require("replicate.cli")
os.exit(cli.main({ ... }), true)
