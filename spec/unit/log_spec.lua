-- log module: levels, formats, redaction (child processes capture stderr)
local log = require("log")
local DRHOST = os.getenv("DRHOST_BIN") or arg[-1] or "build/drhost"

local function run(env, code, flags)
  local cmd = ("%s %s %s -e %q 2>&1"):format(env, DRHOST, flags or "", code)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

describe("log", function()
  it("writes key=value lines at or above the level", function()
    local out = run("DRHOST_LOG=info", [[local log = require('log')
      log.debug('hidden'); log.info('started', {count = 3, name = 'a b'}); log.warn('careful')]])
    assert.not_matches("hidden", out)
    assert.matches('level=info msg="started" count=3 name="a b"', out, 1, true)
    assert.matches("level=warn", out)
    assert.matches("ts=%d%d%d%d%-%d%d%-%d%dT", out)
  end)

  it("honours DRHOST_LOG and -v / -q", function()
    assert.matches("level=debug", run("DRHOST_LOG=debug", "require('log').debug('x')"))
    assert.matches("level=debug", run("DRHOST_LOG=warn", "require('log').debug('x')", "-v"))
    assert.are.equal("", run("DRHOST_LOG=debug", "require('log').warn('x')", "-q"))
    assert.are.equal("", run("DRHOST_LOG=error", "require('log').warn('x')"))
  end)

  it("writes JSON lines with DRHOST_LOG_FORMAT=json", function()
    local out = run("DRHOST_LOG_FORMAT=json", "require('log').info('hi', {n = 1, t = {1, 2}})")
    local v = require("json").decode(out)
    assert.are.equal("hi", v.msg)
    assert.are.equal("info", v.level)
    assert.are.equal("1", v.n)
    assert.are.equal("[1,2]", v.t)
  end)

  it("redacts sensitive fields and secrets in messages", function()
    local out = run("", [[require('log').info('calling Bearer eyJ.abc.def', {
      access_token = 'T0KEN', client_secret = 'S3CRET', password = 'P4SS', account_key = 'K3Y',
      url = 'https://b/c?sv=1&sig=S1G&x=y', Authorization = 'Bearer B34RER', ok = 'visible'})]])
    for _, secret in ipairs({ "eyJ", "T0KEN", "S3CRET", "P4SS", "K3Y", "S1G", "B34RER" }) do
      assert.not_matches(secret, out)
    end
    assert.matches("ok=visible", out)
    assert.matches("x=y", out)
  end)

  it("log.redact handles headers, query strings, forms and JSON", function()
    local cases = {
      { "Authorization: Bearer abc.def", "Authorization: [REDACTED]" },
      { "authorization=SharedKey acct:c2ln", "authorization=[REDACTED]" },
      { "x Bearer abc y", "x Bearer [REDACTED] y" },
      { "https://h/p?a=1&sig=abc%2F&b=2", "https://h/p?a=1&sig=[REDACTED]&b=2" },
      { "https://h/cb?code=AUTH&state=s", "https://h/cb?code=[REDACTED]&state=s" },
      { "grant_type=client_credentials&client_secret=s3&client_assertion=eyJ",
        "grant_type=client_credentials&client_secret=[REDACTED]&client_assertion=[REDACTED]" },
      { '{"access_token":"eyJ0","expires_in":3599}', '{"access_token":"[REDACTED]","expires_in":3599}' },
      { '{"refresh_token": "a\\"b", "n": 1}', '{"refresh_token": "[REDACTED]", "n": 1}' },
      { "code=NOT_FOUND status=404", "code=NOT_FOUND status=404" },
      { "nothing secret here", "nothing secret here" },
    }
    for _, c in ipairs(cases) do
      assert.are.equal(c[2], log.redact(c[1]))
    end
  end)

  it("reports and checks levels", function()
    assert.is_string(log.level())
    assert.is_true(log.enabled("error"))
    local ok, err = pcall(log.set_level, "loud")
    assert.is_false(ok)
    assert.are.equal("BAD_ARGUMENT", err.code)
    assert.matches("loud", err.message)
    assert.is_true(log.is_sensitive_key("x-ms-access-token"))
    assert.is_false(log.is_sensitive_key("region"))
  end)
end)
