-- A representative drhost run for valgrind (tools/suites/30-valgrind.sh): json, crypto, log,
-- errors, the REPL printer and, when DRHOST_TEST_URL is set (a loopback test server), http.
local json = require("json")
local crypto = require("crypto")
local log = require("log")
local errors = require("errors")

local function check(cond, what)
  if not cond then error("representative run: " .. what, 2) end
end

-- json
local doc = '{"a":[1,2,{"b":[]}],"c":"d","e":{},"f":null,"g":12345678901234567890,"h":1.5}'
for _ = 1, 200 do
  local v = json.decode(doc)
  check(json.is_array(v.a[3].b), "empty array kept")
  check(v.g == "12345678901234567890", "big integer as string")
  check(json.encode(v) == '{"a":[1,2,{"b":[]}],"c":"d","e":{},"f":null,"g":"12345678901234567890","h":1.5}',
    "round trip")
end
check(not pcall(json.decode, "[1,"), "bad json refused")
check(not pcall(json.encode, { f = print }), "function refused")

-- crypto
check(crypto.sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256")
check(#crypto.hmac_sha256("k", "v") == 32, "hmac")
for i = 0, 64 do
  local s = crypto.random_bytes(i)
  check(crypto.base64_decode(crypto.base64_encode(s)) == s, "base64")
  check(crypto.base64url_decode(crypto.base64url_encode(s)) == s, "base64url")
end
check(not pcall(crypto.base64_decode, "Zm9!"), "bad base64 refused")
check(#crypto.uuid4() == 36, "uuid")
local key_path = os.getenv("DRHOST_TEST_KEY")
if key_path then
  local f = assert(io.open(key_path))
  local pem = f:read("a")
  f:close()
  local jwt = crypto.jwt_rs256({ x5t = "x" }, { iss = "a", aud = "b" }, pem)
  check(select(2, jwt:gsub("%.", "")) == 2, "jwt shape")
  check(#crypto.x509_thumbprint(pem) == 20, "thumbprint")
  check(not pcall(crypto.jwt_rs256, {}, {}, "garbage"), "bad pem refused")
end

-- log and errors
log.info("representative run", { token = "secret-value", n = 1, t = { 1, 2 } })
check(log.redact("Authorization: Bearer abc") == "Authorization: [REDACTED]", "redact")
local ok, e = pcall(errors.raise, { code = "X", message = "y", details = { 1 } })
check(not ok and errors.is(e, "X"), "structured error")
local pretty = require("drhost.pretty")
check(pretty.show({ { id = 1, n = "a" }, { id = 2, n = "b" } }):match("%(2 rows%)"), "row table")

-- http against the loopback server
local base = os.getenv("DRHOST_TEST_URL")
if base then
  local http = require("http")
  local r = http.request{ method = "POST", url = base .. "/echo", body = json.encode({ a = 1 }),
    headers = { ["Content-Type"] = "application/json", Authorization = "Bearer x" } }
  check(r.status == 200, "http echo status " .. tostring(r.status))
  local reqs = {}
  for i = 1, 20 do reqs[i] = { url = base .. "/status/" .. (i % 2 == 0 and 200 or 404) } end
  local rs = http.all(reqs, { concurrency = 4 })
  for i = 1, 20 do check(rs[i].status == (i % 2 == 0 and 200 or 404), "http.all status") end
  local ok2 = pcall(http.request, { url = "http://127.0.0.1:" .. (os.getenv("DRHOST_TEST_CLOSED_PORT") or "1") .. "/",
    retries = 0, connect_timeout = 2 })
  check(not ok2, "connection refused raises")
  -- tasks: requests started together (http.start/poll), a cancelled set, a retry code
  local res = require("task").map({ 1, 2, 3 }, function(i)
    if i == 3 then http.sleep(0.01) end
    return http.request{ url = base .. "/echo?i=" .. i }.status
  end, { concurrency = 2 })
  for i = 1, 3 do check(res[i].ok and res[i].value == 200, "task request " .. i) end
  local h = http.start({ { url = base .. "/slow?ms=2000" }, { url = base .. "/echo" } })
  h:cancel()
  check(h:results()[1].error.code == "CANCELLED", "cancelled started set")
  local rc = http.request{ url = base .. "/flaky?k=1&status=409&code=Busy&id=rep", retry_codes = { "Busy" },
    backoff_base = 0.01 }
  check(rc.status == 200 and rc.attempts == 2, "retry code")
end
print("representative run ok")
