-- Replication under faults: throttling (429) and 503s injected by the simulator are ridden out;
-- a run killed at any point converges on the next one, without duplicated or lost rows.
local H = dofile("spec/integration/replicate_helper.lua")

describe("replicate under faults (simulator)", function()
  after_each(function() H.admin("DELETE", "/faults") end)

  it("rides out injected 429s and 503s", function()
    local ctx = H.setup("ft")
    H.seed_prod(ctx)
    H.admin("POST", "/faults", { host_kind = "workspace", path = "^/api/2\\.0/sql/statements/?$", method = "POST",
      status = 429, code = "REQUEST_LIMIT_EXCEEDED", rate = 0.3, retry_after = 0 })
    H.admin("POST", "/faults", { host_kind = "workspace", path = "^/api/2\\.1/unity-catalog/", status = 503,
      code = "TEMPORARILY_UNAVAILABLE", rate = 0.2, retry_after = 0 })
    local rc, doc, _, err = H.run(ctx, "sync --json")
    local rules = H.admin("GET", "/faults")
    H.admin("DELETE", "/faults")
    local text = {}
    for _, f in ipairs(doc and doc.failures or {}) do text[#text + 1] = f.object .. ": " .. tostring(f.reason) end
    assert.are.equal(0, rc, err .. table.concat(text, "\n"))
    assert.are.equal(0, doc.totals.failed)
    local fired = 0
    for _, r in ipairs(rules.faults or {}) do fired = fired + (r.fired or 0) end
    assert.is_true(fired > 0, "no fault fired")
    local ok, lines = H.compare(ctx)
    assert.is_true(ok, table.concat(lines, "\n"))
    local same, report = H.deltacheck(ctx)   -- independent: delta-rs on the stored tables
    assert.is_true(same, report)
  end)

  it("a workspace unreachable during discovery ends with the run summary, not a traceback", function()
    local ctx = H.setup("du")
    H.admin("POST", "/faults", { host_kind = "workspace", path = "^/api/2\\.1/unity-catalog/", status = 503,
      code = "TEMPORARILY_UNAVAILABLE", retry_after = 0 })
    local rc, _, so, se = H.run(ctx, "sync")
    local rc_json, doc = H.run(ctx, "sync --json")
    H.admin("DELETE", "/faults")
    assert.are.equal(1, rc, so .. se)
    assert.is_nil((so .. se):find("traceback", 1, true), so .. se)
    assert.matches("\ntotal%s+0%s+1%s+0\n", so)
    assert.matches("discovery %[discover%] failed: [%w_]+: ", so)
    assert.matches("TEMPORARILY_UNAVAILABLE", so)
    assert.matches("\nrun [%x%-]+: ", so)
    assert.are.equal(1, rc_json)
    assert.are.equal(1, doc.totals.failed)
    assert.are.equal("discover", doc.failures[1].phase)
  end)

  it("converges after being killed mid-run", function()
    local ctx = H.setup("kl")
    H.seed_prod(ctx)
    -- slow every statement down so that the kills land inside the run
    H.admin("POST", "/faults", { host_kind = "workspace", path = "^/api/2\\.0/sql/statements", latency_ms = 150 })
    local killed = 0
    for _, t in ipairs({ "1.5", "3" }) do
      local rc = H.run(ctx, "sync --json", "timeout -s KILL " .. t .. " ")
      if rc ~= 0 then killed = killed + 1 end
    end
    H.admin("DELETE", "/faults")
    assert.is_true(killed >= 1, "no run was killed mid-way")
    local rc, doc, _, err = H.run(ctx, "sync --json")
    assert.are.equal(0, rc, err)
    assert.are.equal(0, doc.totals.failed)
    local ok, lines = H.compare(ctx)   -- row counts equal: nothing duplicated or lost
    assert.is_true(ok, table.concat(lines, "\n"))
    local same, report = H.deltacheck(ctx)   -- independent: delta-rs on the stored tables
    assert.is_true(same, report)
    rc, doc = H.run(ctx, "plan --json")
    assert.are.equal(0, rc)
    assert.are.equal(0, #doc.actions)
  end)
end)
