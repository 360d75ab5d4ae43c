-- auth against the simulator's Entra ID, IMDS and Databricks OAuth endpoints (tools/with-sim.sh).
local http = require("http")
local json = require("json")
local crypto = require("crypto")
local auth = require("auth")

local ADMIN = os.getenv("DRHOST_SIM_ADMIN")

local function admin(method, path, body)
  local resp = http.request{ method = method, url = ADMIN .. path, body = body and json.encode(body) or nil,
                             headers = { ["Content-Type"] = "application/json" } }
  assert(resp.status < 300, path .. ": " .. resp.status .. " " .. resp.body)
  return resp.body ~= "" and json.decode(resp.body) or nil
end

local function claims(token)
  return json.decode(crypto.base64url_decode(token:match("^[^.]+%.([^.]+)%.")))
end

local function token_requests()
  local n = 0
  for route, count in pairs(admin("GET", "/stats").by_route) do
    if route:find("oauth2/v2.0/token", 1, true) then n = n + count end
  end
  return n
end

local function tmpfile(content)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return path
end

local authority = os.getenv("AZURE_AUTHORITY_HOST")
local tenant = os.getenv("AZURE_TENANT_ID")

describe("auth (simulator)", function()
  if not ADMIN then
    it("needs the simulator (tools/with-sim.sh)", function() pending("DRHOST_SIM_ADMIN not set") end)
    return
  end

  before_each(function() auth.cache:clear() end)

  it("from_env: client secret token for ARM and for Databricks, with the right audiences", function()
    local cred = auth.from_env()
    assert.are.equal("client_secret", cred.kind)
    local arm = cred:token(auth.ARM_SCOPE)
    local dbx = cred:token(auth.DATABRICKS_SCOPE)
    assert.are.equal("https://management.azure.com", claims(arm).aud)
    assert.are.equal("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d", claims(dbx).aud)
    assert.are.equal(os.getenv("AZURE_CLIENT_ID"), claims(arm).appid)
  end)

  it("caches per scope: a second credential object for the same client makes no request", function()
    local before = token_requests()
    local a = auth.from_env()
    local t1 = a:token(auth.ARM_SCOPE)
    local t2 = auth.from_env():token(auth.ARM_SCOPE)
    assert.are.equal(t1, t2)
    assert.are.equal(before + 1, token_requests())
    a:invalidate()
    assert.are.equal(before + 1, token_requests())
    a:token(auth.ARM_SCOPE)
    assert.are.equal(before + 2, token_requests())
  end)

  it("a wrong secret is AUTH_FAILED with the AADSTS description", function()
    local cred = auth.credential{ kind = "client_secret", tenant_id = tenant, client_id = os.getenv("AZURE_CLIENT_ID"),
                                  client_secret = "wrong", authority_host = authority }
    local ok, err = pcall(cred.token, cred, auth.ARM_SCOPE)
    assert.is_false(ok)
    assert.are.equal("AUTH_FAILED", err.code)
    assert.are.equal(401, err.status)
    assert.truthy(err.message:find("AADSTS", 1, true), err.message)
    assert.is_nil(err.message:find("wrong", 1, true))
  end)

  it("client certificate: a signed assertion the simulator verifies against the registered certificate", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local ok = os.execute("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=drhost-test"
      .. " -keyout " .. dir .. "/key.pem -out " .. dir .. "/cert.pem 2>/dev/null")
    assert(ok, "openssl could not make a test certificate")
    local cert = assert(io.open(dir .. "/cert.pem")):read("a")
    local key = assert(io.open(dir .. "/key.pem")):read("a")
    local app = admin("POST", "/apps", { certificates = { cert }, display_name = "cert-app" })
    local path = tmpfile(cert .. key)
    local cred = auth.credential{ kind = "client_certificate", tenant_id = tenant, client_id = app.client_id,
                                  certificate_path = path, authority_host = authority }
    local tok = cred:token(auth.ARM_SCOPE)
    assert.are.equal(app.client_id, claims(tok).appid)
    os.remove(path)
    os.execute("rm -rf " .. dir)
    -- another app that does not know this certificate refuses it
    local other = admin("POST", "/apps", { secret = "s-1234567890" })
    local bad = auth.credential{ kind = "client_certificate", tenant_id = tenant, client_id = other.client_id,
                                 certificate_pem = cert .. key, authority_host = authority }
    local okb, err = pcall(bad.token, bad, auth.ARM_SCOPE)
    assert.is_false(okb)
    assert.are.equal("AUTH_FAILED", err.code)
    assert.truthy(err.message:find("700027", 1, true) or err.message:find("certificate", 1, true), err.message)
  end)

  it("workload identity: a federated token from a file, and from a GitHub-style request URL", function()
    local subject = "repo:example-org/drhost:environment:dr"
    local gh = admin("GET", "/github-oidc/token?subject=" .. require("web").urlencode(subject))
    local iss = claims(gh.value).iss
    local app = admin("POST", "/apps", { federated = { { issuer = iss, subject = subject,
                                                         audiences = { "api://AzureADTokenExchange" } } } })
    local path = tmpfile(gh.value .. "\n")
    local cred = auth.credential{ kind = "workload_identity", tenant_id = tenant, client_id = app.client_id,
                                  token_file = path, authority_host = authority }
    assert.are.equal(app.client_id, claims(cred:token(auth.ARM_SCOPE)).appid)
    os.remove(path)

    local viaurl = auth.credential{ kind = "workload_identity", tenant_id = tenant, client_id = app.client_id,
      request_url = ADMIN .. "/github-oidc/token?subject=" .. require("web").urlencode(subject),
      request_token = "runner-token", authority_host = authority }
    assert.are.equal(app.client_id, claims(viaurl:token(auth.DATABRICKS_SCOPE)).appid)

    -- a subject the app does not trust
    local wrong = auth.credential{ kind = "workload_identity", tenant_id = tenant, client_id = app.client_id,
      request_url = ADMIN .. "/github-oidc/token?subject=repo:evil/x", request_token = "t",
      authority_host = authority }
    local ok, err = pcall(wrong.token, wrong, auth.ARM_SCOPE)
    assert.is_false(ok)
    assert.are.equal("AUTH_FAILED", err.code)
    assert.truthy(err.message:find("700213", 1, true), err.message)
  end)

  it("managed identity through IMDS", function()
    local ident = admin("POST", "/identities", { name = "mi-drhost" })
    local cred = auth.credential{ kind = "managed_identity", endpoint = os.getenv("DRHOST_IMDS_ENDPOINT"),
                                  client_id = ident.client_id }
    local c = claims(cred:token(auth.ARM_SCOPE))
    assert.are.equal(ident.client_id, c.appid)
    assert.are.equal("https://management.azure.com", c.aud)
  end)

  it("never writes a secret, assertion or token to the debug log", function()
    local bin = os.getenv("DRHOST_BIN")
    if not bin or bin == "" then
      local p = io.popen("readlink /proc/$PPID/exe 2>/dev/null")
      bin = p and (p:read("l") or ""):gsub(" %(deleted%)$", "") or ""
      if p then p:close() end
      if not bin:match("drhost[^/]*$") then bin = "build/drhost" end
    end
    local out_path, log_path = os.tmpname(), os.tmpname()
    local code = [[local auth = require("auth")
      local t = auth.from_env():token(auth.ARM_SCOPE)
      local f = io.open(arg[1], "w") f:write(t) f:close()]]
    local script = tmpfile(code)
    local home = os.getenv("DRHOST_HOME") or "."
    local cmd = string.format("DRHOST_HOME='%s' DRHOST_LOG=debug '%s' '%s' '%s' 2>'%s'", home, bin, script,
                              out_path, log_path)
    assert(os.execute(cmd), "child drhost failed: " .. cmd)
    local token = assert(io.open(out_path)):read("a")
    local log = assert(io.open(log_path)):read("a")
    os.remove(out_path); os.remove(log_path); os.remove(script)
    assert.is_true(#token > 100)
    assert.truthy(log:find("oauth2/v2.0/token", 1, true), "the debug log shows the token request")
    assert.is_nil(log:find(token:sub(1, 40), 1, true), "token in the log")
    assert.is_nil(log:find(os.getenv("AZURE_CLIENT_SECRET"), 1, true), "secret in the log")
  end)

  it("Databricks OAuth M2M at the account", function()
    admin("POST", "/databricks-oauth", { client_id = "00000000-0000-0000-0000-0000000000aa", secret = "dose-secret" })
    local cred = auth.credential{ kind = "databricks_m2m", client_id = "00000000-0000-0000-0000-0000000000aa",
                                  client_secret = "dose-secret" }
    local tok = cred:token(auth.DATABRICKS_SCOPE, { host = os.getenv("DATABRICKS_ACCOUNT_HOST"),
                                                    account_id = os.getenv("DATABRICKS_ACCOUNT_ID") })
    assert.are.equal("00000000-0000-0000-0000-0000000000aa", claims(tok).client_id)
    local bad = auth.credential{ kind = "databricks_m2m", client_id = "00000000-0000-0000-0000-0000000000aa",
                                 client_secret = "nope", host = os.getenv("DATABRICKS_ACCOUNT_HOST"),
                                 account_id = os.getenv("DATABRICKS_ACCOUNT_ID") }
    local ok, err = pcall(bad.token, bad, auth.DATABRICKS_SCOPE)
    assert.is_false(ok)
    assert.are.equal("AUTH_FAILED", err.code)
    assert.are.equal(401, err.status)
  end)
end)
