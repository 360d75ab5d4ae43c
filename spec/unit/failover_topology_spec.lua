-- The topology record's rules (failover.topology), the reversed replication config and the
-- report's recovery figures, without a cloud.
local topology = require("failover.topology")
local report = require("failover.report")

local function rec(active, epoch) return { format = topology.FORMAT, version = 1, active = active, epoch = epoch } end
local REGIONS = { "prod", "dr" }

describe("failover.topology", function()
  it("no record anywhere: the primary is active at epoch 0, nothing stale", function()
    local v = topology.merge({ prod = false, dr = false }, "prod", REGIONS)
    assert.are.equal("prod", v.active)
    assert.are.equal(0, v.epoch)
    assert.are.same({}, v.stale)
    assert.is_true(v.agree)
  end)

  it("the highest epoch wins and a region holding a lower one is stale", function()
    local v = topology.merge({ prod = rec("prod", 2), dr = rec("dr", 3) }, "prod", REGIONS)
    assert.are.equal("dr", v.active)
    assert.are.equal(3, v.epoch)
    assert.are.same({ "prod" }, v.stale)
    assert.is_false(v.agree)
  end)

  it("a region without a record after a failover is stale too", function()
    local v = topology.merge({ prod = false, dr = rec("dr", 1) }, "prod", REGIONS)
    assert.are.same({ "prod" }, v.stale)
  end)

  it("an unreachable store is reported, never taken as agreement", function()
    local v = topology.merge({ dr = rec("dr", 1) }, "prod", REGIONS)
    assert.are.same({ "prod" }, v.unreachable)
    assert.are.same({}, v.stale)
    assert.are.equal("dr", v.active)
  end)

  it("the same epoch with two active regions is a conflict", function()
    local v = topology.merge({ prod = rec("prod", 2), dr = rec("dr", 2) }, "prod", REGIONS)
    assert.matches("both hold epoch 2", v.conflict)
    local ok, why = topology.may_replicate(v, "prod", "dr")
    assert.is_nil(ok)
    assert.matches("disagree", why)
    assert.is_nil((topology.transition(v, "failover", "prod", "dr")))
  end)

  it("next() raises the epoch by one and names the previous active region", function()
    local v = topology.merge({ prod = rec("prod", 4), dr = rec("prod", 4) }, "prod", REGIONS)
    local n = topology.next(v, "dr", { action = "failover" })
    assert.are.equal(5, n.epoch)
    assert.are.equal("dr", n.active)
    assert.are.equal("prod", n.previous)
    assert.is_true(topology.valid(n))
  end)

  it("replication runs only from the active region into the other one", function()
    local passive = topology.merge({ prod = rec("prod", 0), dr = false }, "prod", REGIONS)
    assert.is_true(topology.may_replicate(passive, "prod", "dr"))
    local after = topology.merge({ prod = rec("dr", 1), dr = rec("dr", 1) }, "prod", REGIONS)
    local ok, why = topology.may_replicate(after, "prod", "dr")
    assert.is_nil(ok)
    assert.matches("dr is the active region %(epoch 1", why)
    assert.is_true(topology.may_replicate(after, "dr", "prod"))   -- the failback direction
  end)

  it("a stale region cannot make itself active by its old record", function()
    -- prod was down during a forced failover and still holds epoch 0 saying prod
    local v = topology.merge({ prod = rec("prod", 0), dr = rec("dr", 1) }, "prod", REGIONS)
    local ok = topology.may_replicate(v, "prod", "dr")
    assert.is_nil(ok)
    assert.are.same({ "prod" }, v.stale)
  end)

  it("transitions: failover only from the primary, failback only back to it", function()
    local base = topology.merge({ prod = false, dr = false }, "prod", REGIONS)
    assert.are.same({ from = "prod", to = "dr" }, topology.transition(base, "failover", "prod", "dr"))
    local _, why = topology.transition(base, "failback", "prod", "dr")
    assert.matches("already the active region", why)
    local after = topology.merge({ prod = rec("dr", 1), dr = rec("dr", 1) }, "prod", REGIONS)
    assert.are.same({ from = "dr", to = "prod" }, topology.transition(after, "failback", "prod", "dr"))
    _, why = topology.transition(after, "failover", "prod", "dr")
    assert.matches("dr is already the active region %(epoch 1%)", why)
  end)

  it("valid() refuses what is not a record", function()
    assert.is_nil((topology.valid({})))
    assert.is_nil((topology.valid({ format = topology.FORMAT, active = "dr", epoch = -1 })))
    assert.is_nil((topology.valid({ format = topology.FORMAT, active = "dr", epoch = 1.5 })))
  end)
end)

describe("failover.steps.reversed", function()
  local steps = require("failover.steps")
  local config = require("replicate.config")
  it("swaps sides, catalogs, storage and principals; its own sharing names; state in the primary's storage", function()
    local cfg = config.validate({
      catalogs = { sales = "sales_dr", finance = "finance" },
      storage = { ["abfss://ext@prod.dfs.core.windows.net/"] = "abfss://ext@dr.dfs.core.windows.net/" },
      principals = { map = { ["prod-sp"] = "dr-sp" } },
      state = { managed_location = "abfss://ext@dr.dfs.core.windows.net/drhost_ops" },
      hooks = { filter = function() return true end },
    }, "env/dr.replication.lua")
    local set = { primary = { name = "prod" }, secondary = { name = "dr" } }
    local rev = steps.reversed(cfg, set)
    assert.are.same({ env = "dr" }, rev.source)
    assert.are.same({ env = "prod" }, rev.target)
    assert.are.same({ sales_dr = "sales", finance = "finance" }, rev.catalogs)
    assert.are.equal("abfss://ext@prod.dfs.core.windows.net/", rev.storage["abfss://ext@dr.dfs.core.windows.net/"])
    assert.are.equal("prod-sp", rev.principals.map["dr-sp"])
    assert.are.equal("drhost_prod", rev.sharing.recipient)
    assert.are_not.equal(cfg.sharing.share_prefix, rev.sharing.share_prefix)
    assert.are.equal("abfss://ext@prod.dfs.core.windows.net/drhost_ops", rev.state.managed_location)
    assert.are.same({}, rev.hooks)
  end)
end)

describe("failover.report", function()
  it("worst and median recovery point over the tables that have one", function()
    local s = report.rpo_stats({ { rpo_s = 30 }, { rpo_s = 10 }, { rpo_s = 20 }, { rpo_s = nil }, { rpo_s = 40 } })
    assert.are.equal(40, s.worst)
    assert.are.equal(25, s.median)
    assert.are.equal(4, s.tables)
    assert.are.same({ tables = 0 }, report.rpo_stats({}))
  end)

  it("epoch() reads UTC timestamps whatever the local zone", function()
    assert.are.equal(0, report.epoch("1970-01-01T00:00:00Z"))
    assert.are.equal(86400 + 3661, report.epoch("1970-01-02T01:01:01.250Z"))
    assert.is_nil(report.epoch("yesterday"))
  end)

  it("the markdown has the step table, the RPO table and a gantt bar per step", function()
    local j = { id = "abc", action = "failover", forced = true, from = "prod", to = "dr", epoch = 3,
      started_at = "2026-01-01T00:00:00Z", finished_at = "2026-01-01T00:00:05Z", started_mono = 100, finished_mono = 105,
      steps = { { name = "stop_replication", status = "done", seconds = 1, started = 100, ended = 101, detail = { paused = true } },
                { name = "smoke", status = "failed", seconds = 2, started = 101, ended = 103, error = "SMOKE_FAILED: x" } } }
    local r = report.build(j, { { table = "c.s.t", source_commit_ts = "2026-01-01T00:00:00Z", rpo_s = 12 } })
    assert.are.equal(5, r.rto.total_s)
    assert.are.equal(3, r.rto.steps_s)
    local md = report.markdown(r)
    assert.matches("| stop_replication | done |", md, 1, true)
    assert.matches("**SMOKE_FAILED: x**", md, 1, true)
    assert.matches("| c.s.t | 2026-01-01T00:00:00Z | 12.00 s |", md, 1, true)
    assert.matches("smoke :crit, 1000, 3000", md, 1, true)
    assert.matches("forced", md)
  end)
end)
