-- Share sharding on the simulator (which enforces Databricks' per-share limits): with a small
-- max_tables the Delta tables spread over several shares, each mounted in dr and cloned from;
-- a second sync adds nothing to any share.
local H = dofile("spec/integration/replicate_helper.lua")

describe("replicate share sharding (simulator)", function()
  it("spreads tables over shares within the limit and adds only what a share lacks", function()
    local ctx = H.setup("sh")
    ctx.cfg_table.sharing.max_tables = 2
    H.write_config(ctx, ctx.cfg_table)
    H.seed_prod(ctx)
    local rc, plan = H.run(ctx, "plan --json")
    assert.are.equal(0, rc)
    local created, added = {}, 0
    for _, a in ipairs(plan.actions) do
      if a.phase == "share" and a.op == "create" then created[#created + 1] = a.object end
      if a.phase == "share" and a.op == "update" then
        added = added + #a.tables
        assert.is_true(#a.tables <= 2)
      end
    end
    assert.are.equal(2, #created)   -- 4 Delta tables, 2 per share
    assert.are.equal(4, added)
    local doc
    rc, doc = H.run(ctx, "sync --json")
    assert.are.equal(0, rc)
    assert.are.equal(4, H.count_clones(doc))
    for _, share in ipairs(created) do
      local s = ctx.src.ws:get("/api/2.1/unity-catalog/shares/" .. share, { include_shared_data = "true" })
      assert.is_true(#(s.objects or {}) <= 2)
    end
    rc, plan = H.run(ctx, "plan --json")
    assert.are.equal(0, rc)
    assert.are.equal(0, #plan.actions)
    local ok, lines = H.compare(ctx)
    assert.is_true(ok, table.concat(lines, "\n"))
  end)
end)
