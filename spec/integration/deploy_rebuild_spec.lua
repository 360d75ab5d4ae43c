-- Rebuilding a region from nothing (the DR event): either region is destroyed and applied again,
-- in either order; afterwards both plans are empty and the sharing between them works again.
local H = require("spec.integration.deploy_helpers")

local describe_sim = H.available() and describe or pending

local function applied(fx, env_name, what)
  local rc, out = H.run(fx, env_name, what)
  assert.equal(0, rc, out)
  assert.matches("0 failed, 0 skipped", out)
  return out
end

-- what replication reads through: dr's provider for prod sees prod's first share, and prod's
-- recipient names dr's metastore as it is now
local function sharing_works(fx)
  local c = H.clients()
  local outp, outs = H.outputs(fx, fx.primary), H.outputs(fx, fx.secondary)
  local rec = c.workspace_client(outp.primary_workspace_url):get("/api/2.1/unity-catalog/recipients/" ..
    outp.sharing.recipient)
  assert.equal(outs.global_metastore_id, rec.data_recipient_global_metastore_id)
  local shares = c.workspace_client(outs.primary_workspace_url):list("/api/2.1/unity-catalog/providers/" ..
    outs.provider_name .. "/shares", nil, "shares")
  local names = {}
  for _, sh in ipairs(shares) do names[#names + 1] = sh.name end
  assert.same({ outp.sharing.share_prefix .. "_1" }, names)
end

local function empty_plans(fx)
  for _, e in ipairs({ fx.primary, fx.secondary }) do
    local rc, out = H.run(fx, e, "plan")
    assert.equal(0, rc, e .. ":\n" .. out)
    assert.matches("No changes", out)
  end
end

describe_sim("deploy: a region destroyed and rebuilt", function()
  local fx

  setup(function()
    fx = H.fixture("rb", { regions = { "uksouth", "ukwest" }, base = 140, spokes = 1 })
  end)

  it("applies both regions", function()
    applied(fx, fx.primary, "apply")
    applied(fx, fx.secondary, "apply")
    empty_plans(fx)
    sharing_works(fx)
  end)

  it("rebuilds the secondary: dr destroy, dr apply, then both plans are empty", function()
    local out = applied(fx, fx.secondary, "destroy")
    assert.matches("hub.metastore will be removed from state only (retained)", out, 1, true)
    applied(fx, fx.secondary, "apply")
    empty_plans(fx)
    sharing_works(fx)
  end)

  it("rebuilds the primary: prod destroy, prod apply, dr apply, then both plans are empty", function()
    applied(fx, fx.primary, "destroy")
    applied(fx, fx.primary, "apply")
    applied(fx, fx.secondary, "apply")
    empty_plans(fx)
    sharing_works(fx)
  end)

  it("converges when the secondary's metastore was replaced (deleted outside the deployment)", function()
    local acct = H.clients().account
    local outs = H.outputs(fx, fx.secondary)
    applied(fx, fx.secondary, "destroy")
    acct:delete("/metastores/" .. outs.metastore_id, { force = "true" })
    -- a new metastore: prod's recipient names the old one, so dr finds no provider yet
    local rc, out = H.run(fx, fx.secondary, "apply")
    assert.equal(1, rc, out)
    assert.matches("deploy the peer environment", out, 1, true)
    rc, out = H.run(fx, fx.primary, "plan")
    assert.equal(2, rc, out)
    assert.matches("replication.recipient must be replaced", out, 1, true)
    applied(fx, fx.primary, "apply")
    applied(fx, fx.secondary, "apply")
    empty_plans(fx)
    sharing_works(fx)
  end)
end)
