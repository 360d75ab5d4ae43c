-- version_source = "log" (the default) against the simulator's real Delta tables in Azurite: a no-op
-- sync reads no DESCRIBE HISTORY for tables whose Delta log did not move (one vended credential and
-- one listing each); a table whose data moved is always cloned -- when the listing's version stamp
-- did not move (a data-only commit), and when credential vending is refused (DESCRIBE HISTORY then,
-- said once).
local H = dofile("spec/integration/replicate_helper.lua")

describe("replicate: versions from the Delta log head (simulator)", function()
  local ctx, me
  local function grant(verb)
    for _, c in ipairs({ ctx.names.sales, ctx.names.finance }) do
      ctx.src.conn:exec(verb .. " EXTERNAL USE SCHEMA ON CATALOG " .. c .. (verb == "GRANT" and " TO `" or " FROM `")
        .. me .. "`")
    end
  end

  -- the metastore's external data access switch (the deployment turns it on: components/hub.lua)
  local function external_access(on)
    local acct = require("databricks").account{ host = os.getenv("DATABRICKS_ACCOUNT_HOST"),
      account_id = os.getenv("DATABRICKS_ACCOUNT_ID"), credential = require("auth").from_env() }
    local id = ctx.src.ws:get("/api/2.1/unity-catalog/metastore_summary").metastore_id
    acct:put("/metastores/" .. id, { metastore_info = { external_access_enabled = on } })
  end

  setup(function()
    ctx = H.setup("lg")
    H.seed_prod(ctx)
    me = assert(os.getenv("AZURE_CLIENT_ID"), "AZURE_CLIENT_ID")
    external_access(true)
    grant("GRANT")
    local rc, doc, _, err = H.run(ctx, "sync --json")
    assert(rc == 0 and H.count_clones(doc) == 4, err)
  end)

  it("a no-op sync probes each cloned table's log once and reads no history", function()
    local rc, doc, _, err = H.run(ctx, "sync --json")
    assert.are.equal(0, rc, err)
    assert.are.equal(0, H.count_clones(doc))
    assert.are.same({ log = 4, history = 0, vend = 4, list = 4 }, doc.version_reads)
  end)

  it("a data-only commit leaves the listing's stamp where it was and is still cloned", function()
    local full = ctx.names.sales .. ".core.orders"
    local function stamp()
      local t = ctx.src.ws:get("/api/2.1/unity-catalog/tables/" .. full)
      return (t.properties or {})["delta.lastUpdateVersion"]
    end
    local before = stamp()
    ctx.src.conn:exec("INSERT INTO " .. full .. " VALUES (9, 1, 1.0)")
    assert.are.equal(before, stamp())
    local rc, doc, _, err = H.run(ctx, "sync --json")
    assert.are.equal(0, rc, err)
    assert.are.equal(1, H.count_clones(doc), err)
    assert.are.same({ log = 3, history = 1, vend = 4, list = 4 }, doc.version_reads)
    local ok, lines = H.compare(ctx)
    assert.is_true(ok, table.concat(lines, "\n"))
  end)

  it("vending refused: DESCRIBE HISTORY for every table, said once, and the moved table is cloned", function()
    grant("REVOKE")
    local full = ctx.names.finance .. ".ledger.entries"
    ctx.src.conn:exec("UPDATE " .. full .. " SET amount = amount + 1 WHERE id = 1")
    local rc, doc, _, err = H.run(ctx, "sync --json")
    assert.are.equal(0, rc, err)
    assert.are.equal(1, H.count_clones(doc), err)
    assert.are.same({ log = 0, history = 4, vend = 4, list = 0 }, doc.version_reads)
    local said = 0
    for _, w in ipairs(doc.warnings or {}) do
      if tostring(w.reason):match("credential vending refused") then said = said + 1 end
    end
    assert.are.equal(1, said)
    local ok, lines = H.compare(ctx)
    assert.is_true(ok, table.concat(lines, "\n"))
    grant("GRANT")
    rc, doc = H.run(ctx, "sync --json")
    assert.are.equal(0, rc)
    assert.are.equal(0, H.count_clones(doc))
    assert.are.same({ log = 4, history = 0, vend = 4, list = 4 }, doc.version_reads)
  end)

  it("a catalog-managed table is read with DESCRIBE HISTORY, never its log (which trails UC): its moved data "
    .. "is cloned, said once", function()
    local deltalog = require("replicate.deltalog")
    local full = ctx.names.sales .. ".core.customers"
    ctx.src.conn:exec("ALTER TABLE " .. full .. " SET TBLPROPERTIES ('delta.feature.catalogManaged' = 'supported')")
    local t = ctx.src.ws:get("/api/2.1/unity-catalog/tables/" .. full)
    assert.are.equal("supported", t.properties["delta.feature.catalogManaged"])
    local rc, doc, _, err = H.run(ctx, "sync --json")
    assert.are.equal(0, rc, err)
    assert.are.equal(1, H.count_clones(doc), err)       -- the property change moved its version
    assert.are.same({ log = 3, history = 1, vend = 3, list = 3 }, doc.version_reads)
    -- a data commit: UC has it, the log in storage does not list it yet
    ctx.src.conn:exec("INSERT INTO " .. full .. " VALUES (99, 'late', 'NL')")
    local head = ctx.src.conn:query("DESCRIBE HISTORY " .. full .. " LIMIT 1")[1]
    local v = math.tointeger(tonumber(head.version))
    local cred = ctx.src.ws:post(deltalog.VEND, { table_id = t.table_id, operation = "READ" })
    local listing = require("http").all({ { method = "GET", headers = { ["x-ms-version"] = "2021-08-06" },
      url = deltalog.list_url(cred.url, v, cred.azure_user_delegation_sas.sas_token) } })[1]
    assert.are.equal(200, listing.status)
    assert.is_nil(listing.body:find("<Name>", 1, true), "the newest commit is already published: the test proves nothing")
    rc, doc, _, err = H.run(ctx, "sync --json")
    assert.are.equal(0, rc, err)
    assert.are.equal(1, H.count_clones(doc), err)       -- found through DESCRIBE HISTORY
    assert.are.same({ log = 3, history = 1, vend = 3, list = 3 }, doc.version_reads)
    local said = 0
    for _, w in ipairs(doc.warnings or {}) do
      if tostring(w.reason):match("catalog%-managed") then said = said + 1 end
    end
    assert.are.equal(1, said)
    local ok, lines = H.compare(ctx)
    assert.is_true(ok, table.concat(lines, "\n"))
  end)
end)
