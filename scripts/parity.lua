-- drhost scripts/parity.lua [--json] [--spoke NAME]... : does dr mirror prod's workspace assets?
-- (failover.parity; docs/cicd.md "Workspace-asset parity")
local cli = require("failover.parity_cli")
os.exit(cli.main({ ... }), true)
