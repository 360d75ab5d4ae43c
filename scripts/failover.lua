-- drhost scripts/failover.lua status | failover [--forced] | failback | drill | verify | fence | plan | apply
-- Fails the estate over to dr, back to prod, or rehearses it (docs/failover.md).
local cli = require("failover.cli")
os.exit(cli.run({ ... }) or 0, true)
