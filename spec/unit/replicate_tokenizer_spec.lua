-- The LPeg tokenizer that rewrites catalog names in view and function bodies.
local tokenizer = require("replicate.tokenizer")

describe("replicate.tokenizer", function()
  local map = { prod_sales = "dr_sales", Finance = "fin_dr" }

  it("rewrites the catalog of three-part names only", function()
    local out, changes = tokenizer.rewrite_catalogs(
      "SELECT * FROM prod_sales.core.orders o JOIN core.customers c ON o.id = c.id", map)
    assert.are.equal("SELECT * FROM dr_sales.core.orders o JOIN core.customers c ON o.id = c.id", out)
    assert.are.equal(1, #changes)
    assert.are.equal("prod_sales", changes[1].from)
  end)

  it("leaves string literals and comments alone", function()
    local sql = "SELECT 'prod_sales.core.orders' AS s, \"prod_sales.a.b\" AS d -- prod_sales.x.y\n" ..
      "/* prod_sales.p.q /* nested prod_sales.n.n */ still comment */ FROM prod_sales.core.t"
    local out, changes = tokenizer.rewrite_catalogs(sql, map)
    assert.are.equal(sql:gsub("FROM prod_sales", "FROM dr_sales"), out)
    assert.are.equal(1, #changes)
  end)

  it("respects backslash escapes and doubled quotes inside strings", function()
    local sql = [[SELECT 'it''s prod_sales.a.b', 'x\'prod_sales.c.d', r'raw\' FROM prod_sales.s.t]]
    local out = tokenizer.rewrite_catalogs(sql, map)
    assert.are.equal([[SELECT 'it''s prod_sales.a.b', 'x\'prod_sales.c.d', r'raw\' FROM dr_sales.s.t]], out)
  end)

  it("handles backticked names, keeps the quoting and matches case-insensitively", function()
    local out = tokenizer.rewrite_catalogs("SELECT * FROM `PROD_SALES`.`my schema`.`t``x` JOIN finance.a.b", map)
    assert.are.equal("SELECT * FROM `dr_sales`.`my schema`.`t``x` JOIN fin_dr.a.b", out)
  end)

  it("does not touch a backticked identifier that merely contains the catalog name", function()
    local out = tokenizer.rewrite_catalogs("SELECT `prod_sales.core.orders` FROM x.y.z", map)
    assert.are.equal("SELECT `prod_sales.core.orders` FROM x.y.z", out)
  end)

  it("allows spaces and comments around dots and rewrites four-part column references", function()
    local out = tokenizer.rewrite_catalogs("SELECT prod_sales . core . t . col FROM prod_sales/*c*/.core.t", map)
    assert.are.equal("SELECT dr_sales . core . t . col FROM dr_sales/*c*/.core.t", out)
  end)

  it("does not rewrite a name that follows a dot (not a catalog position)", function()
    local out = tokenizer.rewrite_catalogs("SELECT a.prod_sales.x.y FROM t", map)
    assert.are.equal("SELECT a.prod_sales.x.y FROM t", out)
  end)

  it("rewrites function calls", function()
    local out = tokenizer.rewrite_catalogs("SELECT prod_sales.util.mask(email) FROM prod_sales.core.c", map)
    assert.are.equal("SELECT dr_sales.util.mask(email) FROM dr_sales.core.c", out)
  end)

  it("quotes a target name that is not a plain identifier", function()
    local out = tokenizer.rewrite_catalogs("SELECT 1 FROM prod_sales.a.b", { prod_sales = "dr-sales" })
    assert.are.equal("SELECT 1 FROM `dr-sales`.a.b", out)
  end)

  it("round-trips text without mapped names byte for byte", function()
    local sql = "select 1.5e3, .5, x::int, a<>b, 'é€', `ü` from t where c >= 2 -- end"
    assert.are.equal(sql, (tokenizer.rewrite_catalogs(sql, map)))
  end)

  it("reports unterminated strings, quoted names and comments with their offset", function()
    for _, bad in ipairs({ "SELECT 'abc", "SELECT `abc", "SELECT 1 /* open", 'SELECT "x' }) do
      local ok, err = pcall(tokenizer.tokenize, bad)
      assert.is_false(ok)
      assert.are.equal("SQL_TOKENIZE_ERROR", err.code)
      assert.truthy(err.message:match("offset %d+"))
    end
  end)

  it("lists references, completing two-part names with the default catalog", function()
    local refs = tokenizer.references(
      "SELECT * FROM prod_sales.core.orders JOIN core.v1 USING (id) WHERE x IN (SELECT y FROM prod_sales.core.orders)",
      "prod_sales")
    assert.are.same({ "prod_sales.core.orders", "prod_sales.core.v1" }, refs)
  end)
end)
