-- auth: token cache (reuse, refresh 5 minutes before expiry, sharing), the token requests each
-- credential kind builds, and argument checks; a scripted fake of the http module, no network.
local json = require("json")

local function fake_http(handler)
  local f = { calls = {}, clock = 5000 }
  function f.request(req)
    f.calls[#f.calls + 1] = req
    local r = handler(req, f)
    r.headers = r.headers or {}
    if type(r.body) == "table" then r.body = json.encode(r.body) end
    return r
  end
  function f.all(reqs)
    local out = {}
    for i, r in ipairs(reqs) do out[i] = f.request(r) end
    return out
  end
  function f.now() return f.clock end
  function f.sleep(s) f.clock = f.clock + s end
  return f
end

local function form(body)
  local t = {}
  for k, v in body:gmatch("([^&=]+)=([^&]*)") do
    t[k] = v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  end
  return t
end

local function load(handler)
  local f = fake_http(handler)
  package.loaded.http = f
  package.loaded.auth = nil
  local auth = require("auth")
  auth.cache:clear()
  return auth, f
end

local n = 0
local function token_server()
  n = n + 1
  return { status = 200, body = { access_token = "t" .. n, expires_in = 3600, token_type = "Bearer" } }
end

describe("auth token cache", function()
  local saved_http
  setup(function() saved_http = package.loaded.http end)
  teardown(function() package.loaded.http, package.loaded.auth = saved_http, nil end)

  it("reuses a token until 5 minutes before expiry, then fetches a new one", function()
    local auth = load(token_server)
    local clock = 0
    local cache = auth.token_cache{ now = function() return clock end }
    local fetches = 0
    local function fetch() fetches = fetches + 1; return "tok" .. fetches, 3600 end
    assert.are.equal("tok1", cache:get("k", fetch))
    clock = 3600 - 301
    assert.are.equal("tok1", cache:get("k", fetch))
    clock = 3600 - 299
    assert.are.equal("tok2", cache:get("k", fetch))
    assert.are.equal(2, fetches)
  end)

  it("keeps scopes apart and refreshes short-lived tokens at half life", function()
    local auth = load(token_server)
    local clock = 0
    local cache = auth.token_cache{ now = function() return clock end }
    local count = 0
    local function fetch() count = count + 1; return "x" .. count, 100 end
    assert.are.equal("x1", cache:get("a", fetch))
    assert.are.equal("x2", cache:get("b", fetch))
    clock = 49
    assert.are.equal("x1", cache:get("a", fetch))
    clock = 51
    assert.are.equal("x3", cache:get("a", fetch))
  end)

  it("does not cache a failure", function()
    local auth = load(token_server)
    local cache = auth.token_cache{ now = function() return 0 end }
    assert.has_error(function() cache:get("k", function() error("boom") end) end)
    assert.are.equal("ok", cache:get("k", function() return "ok", 3600 end))
  end)

  it("client_secret: posts the v2 form once and shares the token between equal credentials", function()
    n = 0
    local auth, f = load(token_server)
    local opts = { kind = "client_secret", tenant_id = "tid", client_id = "cid", client_secret = "s3cr&t",
                   authority_host = "https://login.example.localhost/" }
    local a, b = auth.credential(opts), auth.credential(opts)
    assert.are.equal("t1", a:token(auth.ARM_SCOPE))
    assert.are.equal("t1", b:token(auth.ARM_SCOPE))
    assert.are.equal("t2", a:token(auth.DATABRICKS_SCOPE))
    assert.are.equal(2, #f.calls)
    local req = f.calls[1]
    assert.are.equal("POST", req.method)
    assert.are.equal("https://login.example.localhost/tid/oauth2/v2.0/token", req.url)
    assert.are.equal("application/x-www-form-urlencoded", req.headers["Content-Type"])
    assert.are.same({ grant_type = "client_credentials", client_id = "cid", client_secret = "s3cr&t",
                      scope = auth.ARM_SCOPE }, form(req.body))
    -- another secret for the same client is another identity
    opts.client_secret = "other"
    assert.are.equal("t3", auth.credential(opts):token(auth.ARM_SCOPE))
    -- the clock passes the refresh point: a new token
    f.clock = f.clock + 3600 - 299
    assert.are.equal("t4", a:token(auth.ARM_SCOPE))
  end)

  it("client_certificate: sends a jwt-bearer assertion for the token endpoint", function()
    n = 0
    local auth, f = load(token_server)
    local pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
             .. "-----BEGIN " .. "PRIVATE KEY-----\nMIIE\n-----END " .. "PRIVATE KEY-----\n"
    local seen
    local crypto = require("crypto")
    local real, real_thumb = crypto.jwt_rs256, crypto.x509_thumbprint
    crypto.jwt_rs256 = function(h, c, key) seen = { h = h, c = c, key = key }; return "a.b.c" end
    crypto.x509_thumbprint = function(cert)
      assert(cert:find("BEGIN CERTIFICATE", 1, true) and not cert:find("PRIVATE KEY", 1, true))
      return string.rep("\1", 20)
    end
    local ok, err = pcall(function()
      local cred = auth.credential{ kind = "client_certificate", tenant_id = "tid", client_id = "cid",
                                    certificate_pem = pem, authority_host = "https://login.example.localhost" }
      cred:token(auth.ARM_SCOPE)
    end)
    crypto.jwt_rs256, crypto.x509_thumbprint = real, real_thumb
    assert(ok, tostring(err))
    local body = form(f.calls[1].body)
    assert.are.equal("urn:ietf:params:oauth:client-assertion-type:jwt-bearer", body.client_assertion_type)
    assert.are.equal("a.b.c", body.client_assertion)
    assert.is_nil(body.client_secret)
    assert.are.equal("RS256", seen.h.alg)
    assert.are.equal(crypto.base64url_encode(string.rep("\1", 20)), seen.h.x5t)
    assert.are.equal("https://login.example.localhost/tid/oauth2/v2.0/token", seen.c.aud)
    assert.are.equal("cid", seen.c.iss)
    assert.are.equal("cid", seen.c.sub)
    assert.is_true(seen.c.exp > seen.c.nbf)
    assert.truthy(seen.key:find("BEGIN PRIVATE KEY", 1, true))
  end)

  it("managed identity: GET with Metadata: true and the resource without /.default", function()
    local auth, f = load(function()
      return { status = 200, body = { access_token = "mi", expires_in = "3599", resource = "r" } }
    end)
    local cred = auth.credential{ kind = "managed_identity", endpoint = "http://imds.example.localhost/token" }
    assert.are.equal("mi", cred:token(auth.ARM_SCOPE))
    local req = f.calls[1]
    assert.are.equal("GET", req.method)
    assert.are.equal("true", req.headers.Metadata)
    assert.truthy(req.url:find("api-version=2018-02-01", 1, true))
    assert.truthy(req.url:find("resource=https%3A%2F%2Fmanagement.azure.com", 1, true))
    assert.is_nil(req.url:find(".default", 1, true))
  end)

  it("managed identity, App Service flavour: X-IDENTITY-HEADER and api-version 2019-08-01", function()
    local auth, f = load(function()
      return { status = 200, body = { access_token = "as", expires_on = tostring(os.time() + 3600) } }
    end)
    local cred = auth.credential{ kind = "managed_identity", endpoint = "http://127.0.0.1:4141/msi/token",
                                  identity_header = "hdr", client_id = "uami" }
    local token, expires_at = cred:token(auth.ARM_SCOPE)
    assert.are.equal("as", token)
    assert.is_true(expires_at > f.clock + 3000)  -- from expires_on when there is no expires_in
    local req = f.calls[1]
    assert.are.equal("hdr", req.headers["X-IDENTITY-HEADER"])
    assert.is_nil(req.headers.Metadata)
    assert.truthy(req.url:find("api-version=2019-08-01", 1, true))
    assert.truthy(req.url:find("client_id=uami", 1, true))
  end)

  it("workload identity: fetches the GitHub OIDC token, then exchanges it", function()
    local auth, f = load(function(req)
      if req.method == "GET" then return { status = 200, body = { value = "gh-oidc" } } end
      return { status = 200, body = { access_token = "wi", expires_in = 3600 } }
    end)
    local cred = auth.credential{ kind = "workload_identity", tenant_id = "t", client_id = "c",
      request_url = "https://gh.example.localhost/token?x=1", request_token = "rt",
      authority_host = "https://login.example.localhost" }
    assert.are.equal("wi", cred:token(auth.ARM_SCOPE))
    assert.are.equal("Bearer rt", f.calls[1].headers.Authorization)
    assert.truthy(f.calls[1].url:find("&audience=api%3A%2F%2FAzureADTokenExchange", 1, true))
    assert.are.equal("gh-oidc", form(f.calls[2].body).client_assertion)
  end)

  it("databricks_m2m: basic auth to the account or workspace OIDC endpoint, scope all-apis", function()
    local auth, f = load(token_server)
    local cred = auth.credential{ kind = "databricks_m2m", client_id = "id", client_secret = "sec" }
    cred:token(auth.DATABRICKS_SCOPE, { host = "https://accounts.example.localhost", account_id = "acc" })
    cred:token(auth.DATABRICKS_SCOPE, { host = "https://adb-1.example.localhost/" })
    assert.are.equal("https://accounts.example.localhost/oidc/accounts/acc/v1/token", f.calls[1].url)
    assert.are.equal("https://adb-1.example.localhost/oidc/v1/token", f.calls[2].url)
    assert.are.equal("Basic " .. require("crypto").base64_encode("id:sec"), f.calls[1].headers.Authorization)
    assert.are.same({ grant_type = "client_credentials", scope = "all-apis" }, form(f.calls[1].body))
  end)

  it("raises AUTH_FAILED with the AADSTS description", function()
    local auth = load(function()
      return { status = 401, body = { error = "invalid_client",
        error_description = "AADSTS7000215: Invalid client secret provided." } }
    end)
    local cred = auth.credential{ kind = "client_secret", tenant_id = "t", client_id = "c", client_secret = "x",
                                  authority_host = "https://login.example.localhost" }
    local ok, err = pcall(cred.token, cred, auth.ARM_SCOPE)
    assert.is_false(ok)
    assert.are.equal("AUTH_FAILED", err.code)
    assert.are.equal(401, err.status)
    assert.truthy(err.message:find("AADSTS7000215", 1, true))
    assert.is_nil(err.message:find("x&", 1, true))
  end)

  it("checks its arguments with specific messages", function()
    local auth = load(token_server)
    local ok, err = pcall(auth.credential, { kind = "password" })
    assert.is_false(ok)
    assert.truthy(err.message:find("unknown kind password", 1, true))
    ok, err = pcall(auth.credential, { kind = "client_secret", tenant_id = "t", client_id = "c" })
    assert.is_false(ok)
    assert.truthy(err.message:find("client_secret must be a non-empty string", 1, true))
    ok, err = pcall(auth.split_pem, "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n", "cert.pem")
    assert.is_false(ok)
    assert.truthy(err.message:find("cert.pem: no PEM private key block", 1, true))
    ok, err = pcall(auth.credential, { kind = "workload_identity", tenant_id = "t", client_id = "c" })
    assert.is_false(ok)
    assert.truthy(err.message:find("token_file", 1, true))
  end)
end)
