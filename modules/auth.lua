-- auth: access tokens for Azure (Entra ID) and Databricks.
--
--   local cred = auth.credential{ kind = "client_secret", tenant_id =, client_id =, client_secret = }
--   local token = cred:token("https://management.azure.com/.default")
--
-- Kinds: client_secret, client_certificate, workload_identity, managed_identity, databricks_m2m,
-- static. Tokens are cached per (credential, scope) in one table shared by every credential object
-- of this process and refreshed 5 minutes before they expire. Tokens are never logged.
-- Reference: docs/modules/auth.md.
local http = require("http")
local json = require("json")
local crypto = require("crypto")
local log = require("log")
local errors = require("errors")
local web = require("web")

local M = {}

M.ARM_SCOPE = "https://management.azure.com/.default"
M.DATABRICKS_SCOPE = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"
M.DATABRICKS_M2M_SCOPE = "all-apis"
M.DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
M.DEFAULT_IMDS = "http://169.254.169.254/metadata/identity/oauth2/token"
M.REFRESH_MARGIN = 300 -- seconds before expiry a cached token is replaced
local ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
local GITHUB_AUDIENCE = "api://AzureADTokenExchange"

---------------------------------------------------------------------------------------------------
-- token cache
---------------------------------------------------------------------------------------------------
-- cache:get(key, fetch) returns a cached token for key, or calls fetch() -> token, expires_in
-- (seconds) and caches it. A token is reused until REFRESH_MARGIN seconds before it expires (half
-- its lifetime when that is shorter).
-- The host runs Lua on one thread and http.all never calls back into Lua, so callers are served in
-- turn: the first one fetches, every later one (any credential object with the same identity) gets
-- the same cached token.
function M.token_cache(opts)
  opts = opts or {}
  local cache = { entries = {}, now = opts.now or web.now, margin = opts.margin or M.REFRESH_MARGIN,
                  fetches = 0 }
  function cache.get(self, key, fetch)
    local e = self.entries[key]
    local now = self.now()
    if e and now < e.refresh_at then return e.token, e.expires_at end
    self.fetches = self.fetches + 1
    local token, expires_in = fetch()
    expires_in = tonumber(expires_in) or 3600
    now = self.now()
    -- short-lived tokens are refreshed at half their life rather than never being reused
    e = { token = token, expires_at = now + expires_in,
          refresh_at = now + expires_in - math.min(self.margin, expires_in / 2) }
    self.entries[key] = e
    return token, e.expires_at
  end
  function cache.clear(self) self.entries = {} end
  return cache
end

local shared_cache = M.token_cache{ now = function() return web.now() end }
M.cache = shared_cache

---------------------------------------------------------------------------------------------------
-- token requests
---------------------------------------------------------------------------------------------------
local function describe_failure(status, body)
  local doc = web.decode(body)
  if type(doc) == "table" then
    local desc = doc.error_description or doc.message or doc.error
    if type(desc) == "table" then desc = desc.message or json.encode(desc) end
    return tostring(desc or ("HTTP " .. tostring(status))), doc
  end
  local text = tostring(body or ""):sub(1, 200)
  return (text ~= "" and text or ("HTTP " .. tostring(status))), nil
end

-- POSTs a token request and returns access_token, expires_in.
local function token_request(what, req)
  req.method = req.method or "POST"
  req.timeout = req.timeout or 30
  local ok, resp = pcall(http.request, req)
  if not ok then
    local e = resp
    errors.raise({ code = "AUTH_FAILED", message = what .. ": " .. tostring(type(e) == "table" and e.message or e),
          cause = type(e) == "table" and e.code or nil, url = req.url })
  end
  if resp.status < 200 or resp.status >= 300 then
    local message, doc = describe_failure(resp.status, resp.body)
    errors.raise({ code = "AUTH_FAILED", status = resp.status, message = what .. ": " .. message,
          error = type(doc) == "table" and doc.error or nil, url = req.url })
  end
  local doc = web.decode(resp.body)
  if type(doc) ~= "table" or type(doc.access_token) ~= "string" or doc.access_token == "" then
    errors.raise({ code = "AUTH_FAILED", status = resp.status,
          message = what .. ": the token response has no access_token", url = req.url })
  end
  local expires_in = tonumber(doc.expires_in)
  if not expires_in and tonumber(doc.expires_on) then expires_in = tonumber(doc.expires_on) - os.time() end
  log.debug("token acquired", { source = what, expires_in = expires_in, url = req.url })
  return doc.access_token, expires_in or 3600
end

local function require_field(opts, key, kind)
  local v = opts[key]
  if type(v) ~= "string" or v == "" then
    errors.raise({ code = "INVALID_ARGUMENT",
          message = string.format("auth.credential{kind=%q}: %s must be a non-empty string", kind, key) })
  end
  return v
end

local function read_file(path, what)
  local f, err = io.open(path, "rb")
  if not f then errors.raise({ code = "AUTH_FAILED", message = what .. ": cannot read " .. tostring(err) }) end
  local s = f:read("a")
  f:close()
  return s
end

local function pem_block(pem, label_pattern)
  return pem:match("(%-%-%-%-%-BEGIN " .. label_pattern .. "%-%-%-%-%-.-%-%-%-%-%-END "
    .. label_pattern .. "%-%-%-%-%-)")
end

-- The certificate and private key blocks of a PEM file.
function M.split_pem(pem, source)
  source = source or "certificate PEM"
  local cert = pem_block(pem, "CERTIFICATE")
  local key = pem_block(pem, "PRIVATE KEY") or pem_block(pem, "RSA PRIVATE KEY")
  if not cert then
    errors.raise({ code = "INVALID_ARGUMENT", message = source .. ": no -----BEGIN CERTIFICATE----- block" })
  end
  if not key then
    errors.raise({ code = "INVALID_ARGUMENT",
          message = source .. ": no PEM private key block (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)" })
  end
  return cert, key
end

-- Builds the signed client assertion (RS256 JWT) for a certificate credential.
function M.client_assertion(opts)
  local now = os.time()
  local header = { alg = "RS256", typ = "JWT",
                   x5t = crypto.base64url_encode(crypto.x509_thumbprint(opts.cert_pem)) }
  local claims = { aud = opts.audience, iss = opts.client_id, sub = opts.client_id,
                   jti = crypto.uuid4(), nbf = now, iat = now, exp = now + 600 }
  return crypto.jwt_rs256(header, claims, opts.key_pem)
end

---------------------------------------------------------------------------------------------------
-- credentials
---------------------------------------------------------------------------------------------------
local Credential = {}
Credential.__index = Credential
Credential.__name = "drhost.credential"
function Credential.__tostring(self) return "credential(" .. self.kind .. ")" end

-- cred:token(scope [, ctx]) -> access token string, expiry (epoch seconds).
-- ctx is used by databricks_m2m credentials: { host =, account_id = } of the client asking.
function Credential:token(scope, ctx)
  if self.kind == "static" then return self.static_token, math.huge end
  local key, fetch = self:_fetcher(scope, ctx or {})
  return self.cache:get(key, fetch)
end

-- Drops cached tokens of this credential (e.g. after a 401).
function Credential:invalidate()
  local prefix = self.id .. "\0"
  for k in pairs(self.cache.entries) do
    if k:sub(1, #prefix) == prefix then self.cache.entries[k] = nil end
  end
end

local function entra_token_url(self)
  return self.authority .. "/" .. self.tenant_id .. "/oauth2/v2.0/token"
end

local function github_oidc_token(self)
  local url = web.append_query(self.actions_url, "audience=" .. web.urlencode(GITHUB_AUDIENCE))
  local ok, resp = pcall(http.request, { method = "GET", url = url, timeout = 30,
    headers = { Authorization = "Bearer " .. self.actions_token, Accept = "application/json" } })
  if not ok then
    errors.raise({ code = "AUTH_FAILED", message = "GitHub OIDC token request: "
          .. tostring(type(resp) == "table" and resp.message or resp) })
  end
  if resp.status ~= 200 then
    local message = describe_failure(resp.status, resp.body)
    errors.raise({ code = "AUTH_FAILED", status = resp.status, message = "GitHub OIDC token request: " .. message })
  end
  local doc = web.decode(resp.body)
  if type(doc) ~= "table" or type(doc.value) ~= "string" then
    errors.raise({ code = "AUTH_FAILED", status = resp.status,
          message = "GitHub OIDC token request: the response has no \"value\"" })
  end
  return doc.value
end

local fetchers = {}

function fetchers.client_secret(self, scope)
  return function()
    return token_request("Entra ID client_secret", {
      url = entra_token_url(self),
      headers = { ["Content-Type"] = "application/x-www-form-urlencoded", Accept = "application/json" },
      body = web.form_encode{ grant_type = "client_credentials", client_id = self.client_id,
                               client_secret = self.client_secret, scope = scope } })
  end
end

-- The client-credentials request of a client assertion (a signed JWT or a federated token).
local function assertion_request(what, self, scope, url, assertion)
  return token_request(what, {
    url = url,
    headers = { ["Content-Type"] = "application/x-www-form-urlencoded", Accept = "application/json" },
    body = web.form_encode{ grant_type = "client_credentials", client_id = self.client_id,
                             client_assertion_type = ASSERTION_TYPE, client_assertion = assertion,
                             scope = scope } })
end

function fetchers.client_certificate(self, scope)
  return function()
    local url = entra_token_url(self)
    local assertion = M.client_assertion{ cert_pem = self.cert_pem, key_pem = self.key_pem,
                                          client_id = self.client_id, audience = url }
    return assertion_request("Entra ID client_certificate", self, scope, url, assertion)
  end
end

function fetchers.workload_identity(self, scope)
  return function()
    local assertion
    if self.token_file then
      assertion = read_file(self.token_file, "AZURE_FEDERATED_TOKEN_FILE"):gsub("%s+$", "")
      if assertion == "" then
        errors.raise({ code = "AUTH_FAILED", message = "federated token file " .. self.token_file .. " is empty" })
      end
    else
      assertion = github_oidc_token(self)
    end
    return assertion_request("Entra ID workload_identity", self, scope, entra_token_url(self), assertion)
  end
end

function fetchers.managed_identity(self, scope)
  return function()
    local resource = scope:gsub("/%.default$", "")
    local q = { ["api-version"] = "2018-02-01", resource = resource, client_id = self.client_id }
    local headers = { Metadata = "true", Accept = "application/json" }
    if self.identity_header then
      -- App Service / Functions flavour: IDENTITY_ENDPOINT + IDENTITY_HEADER
      q["api-version"] = "2019-08-01"
      headers = { ["X-IDENTITY-HEADER"] = self.identity_header, Accept = "application/json" }
    end
    return token_request("managed identity", {
      method = "GET", url = web.append_query(self.endpoint, q), headers = headers })
  end
end

function fetchers.databricks_m2m(self, scope, ctx)
  local host = self.host or ctx.host
  local account_id = self.account_id or ctx.account_id
  if not host then
    errors.raise({ code = "INVALID_ARGUMENT",
          message = "databricks_m2m credential: no host (give host= or use it from a databricks client)" })
  end
  host = host:gsub("/+$", "")
  local url
  if account_id and account_id ~= "" then
    url = host .. "/oidc/accounts/" .. account_id .. "/v1/token"
  else
    url = host .. "/oidc/v1/token"
  end
  if scope == M.DATABRICKS_SCOPE or scope == nil then scope = M.DATABRICKS_M2M_SCOPE end
  return url .. "\0" .. scope, function()
    local basic = crypto.base64_encode(self.client_id .. ":" .. self.client_secret)
    return token_request("Databricks OAuth M2M", {
      url = url,
      headers = { ["Content-Type"] = "application/x-www-form-urlencoded", Accept = "application/json",
                  Authorization = "Basic " .. basic },
      body = web.form_encode{ grant_type = "client_credentials", scope = scope } })
  end
end

function Credential:_fetcher(scope, ctx)
  if type(scope) ~= "string" or scope == "" then
    errors.raise({ code = "INVALID_ARGUMENT", message = "credential:token(scope): scope must be a non-empty string" })
  end
  local f = fetchers[self.kind]
  if self.kind == "databricks_m2m" then
    local key, fetch = f(self, scope, ctx)
    return self.id .. "\0" .. key, fetch
  end
  return self.id .. "\0" .. scope, f(self, scope, ctx)
end

local KINDS = { client_secret = true, client_certificate = true, workload_identity = true,
                managed_identity = true, databricks_m2m = true, static = true }

-- auth.credential(opts) -> credential. See docs/modules/auth.md for the fields of each kind.
function M.credential(opts)
  if type(opts) ~= "table" then
    errors.raise({ code = "INVALID_ARGUMENT", message = "auth.credential(opts): opts must be a table" })
  end
  local kind = opts.kind
  if not KINDS[kind] then
    errors.raise({ code = "INVALID_ARGUMENT", message = string.format(
      "auth.credential: unknown kind %s (expected client_secret, client_certificate, "
      .. "workload_identity, managed_identity, databricks_m2m or static)", tostring(kind)) })
  end
  local self = setmetatable({ kind = kind, cache = opts.cache or shared_cache }, Credential)
  local authority = (opts.authority_host or os.getenv("AZURE_AUTHORITY_HOST") or M.DEFAULT_AUTHORITY)
  self.authority = authority:gsub("/+$", "")
  if kind == "static" then
    self.static_token = require_field(opts, "token", kind)
    self.id = "static"
  elseif kind == "client_secret" then
    self.tenant_id = require_field(opts, "tenant_id", kind)
    self.client_id = require_field(opts, "client_id", kind)
    self.client_secret = require_field(opts, "client_secret", kind)
  elseif kind == "client_certificate" then
    self.tenant_id = require_field(opts, "tenant_id", kind)
    self.client_id = require_field(opts, "client_id", kind)
    local pem = opts.certificate_pem
    local source = "certificate_pem"
    if not pem then
      local path = require_field(opts, "certificate_path", kind)
      pem = read_file(path, "client certificate")
      source = path
    end
    self.cert_pem, self.key_pem = M.split_pem(pem, source)
  elseif kind == "workload_identity" then
    self.tenant_id = require_field(opts, "tenant_id", kind)
    self.client_id = require_field(opts, "client_id", kind)
    if opts.token_file and opts.token_file ~= "" then
      self.token_file = opts.token_file
    elseif opts.request_url and opts.request_url ~= "" then
      self.actions_url = opts.request_url
      self.actions_token = require_field(opts, "request_token", kind)
    else
      errors.raise({ code = "INVALID_ARGUMENT", message = "auth.credential{kind=\"workload_identity\"}: "
            .. "give token_file (AZURE_FEDERATED_TOKEN_FILE) or request_url and request_token "
            .. "(ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN)" })
    end
  elseif kind == "managed_identity" then
    self.endpoint = opts.endpoint or M.DEFAULT_IMDS
    self.client_id = opts.client_id -- user-assigned identity; nil for system-assigned
    self.identity_header = opts.identity_header -- App Service's IDENTITY_HEADER (api-version 2019-08-01)
  elseif kind == "databricks_m2m" then
    self.client_id = require_field(opts, "client_id", kind)
    self.client_secret = require_field(opts, "client_secret", kind)
    self.host = opts.host
    self.account_id = opts.account_id
  end
  if not self.id then
    self.id = table.concat({ kind, self.authority, self.tenant_id or "", self.client_id or "",
                             self.endpoint or self.host or "" }, "|")
    -- a different secret for the same client must not reuse the other one's tokens
    local secret = self.client_secret or self.key_pem or self.token_file or self.actions_url
    if secret then self.id = self.id .. "|" .. crypto.sha256(secret):sub(1, 16) end
  end
  return self
end

local function env(name)
  local v = os.getenv(name)
  if v == nil or v == "" then return nil end
  return v
end

-- auth.from_env([opts]) -> credential chosen from the environment, in this order:
-- client secret, client certificate, workload identity (token file, then GitHub OIDC), managed
-- identity. With opts.databricks = true, DATABRICKS_CLIENT_ID/SECRET (OAuth M2M) win when set.
function M.from_env(opts)
  opts = opts or {}
  if opts.databricks and env("DATABRICKS_CLIENT_ID") and env("DATABRICKS_CLIENT_SECRET") then
    return M.credential{ kind = "databricks_m2m", client_id = env("DATABRICKS_CLIENT_ID"),
                         client_secret = env("DATABRICKS_CLIENT_SECRET"), host = opts.host,
                         account_id = opts.account_id }
  end
  local tenant, client = env("AZURE_TENANT_ID"), env("AZURE_CLIENT_ID")
  local authority = env("AZURE_AUTHORITY_HOST")
  local function need(kind)
    local missing = {}
    if not tenant then missing[#missing + 1] = "AZURE_TENANT_ID" end
    if not client then missing[#missing + 1] = "AZURE_CLIENT_ID" end
    if #missing > 0 then
      errors.raise({ code = "AUTH_FAILED", user = true, message = "auth.from_env: " .. kind .. " credential needs "
            .. table.concat(missing, " and ") })
    end
  end
  if env("AZURE_CLIENT_SECRET") then
    need("client secret")
    return M.credential{ kind = "client_secret", tenant_id = tenant, client_id = client,
                         client_secret = env("AZURE_CLIENT_SECRET"), authority_host = authority }
  end
  if env("AZURE_CLIENT_CERTIFICATE_PATH") then
    need("client certificate")
    return M.credential{ kind = "client_certificate", tenant_id = tenant, client_id = client,
                         certificate_path = env("AZURE_CLIENT_CERTIFICATE_PATH"), authority_host = authority }
  end
  if env("AZURE_FEDERATED_TOKEN_FILE") or (env("ACTIONS_ID_TOKEN_REQUEST_URL")
      and env("ACTIONS_ID_TOKEN_REQUEST_TOKEN")) then
    need("workload identity")
    return M.credential{ kind = "workload_identity", tenant_id = tenant, client_id = client,
                         token_file = env("AZURE_FEDERATED_TOKEN_FILE"),
                         request_url = env("ACTIONS_ID_TOKEN_REQUEST_URL"),
                         request_token = env("ACTIONS_ID_TOKEN_REQUEST_TOKEN"), authority_host = authority }
  end
  if env("DRHOST_IMDS_ENDPOINT") then
    return M.credential{ kind = "managed_identity", endpoint = env("DRHOST_IMDS_ENDPOINT"), client_id = client }
  end
  if env("IDENTITY_ENDPOINT") then
    return M.credential{ kind = "managed_identity", endpoint = env("IDENTITY_ENDPOINT"), client_id = client,
                         identity_header = env("IDENTITY_HEADER") }
  end
  errors.raise({ code = "AUTH_FAILED", user = true, message = "auth.from_env: no credential in the environment (set "
        .. "AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE, "
        .. "ACTIONS_ID_TOKEN_REQUEST_URL or DRHOST_IMDS_ENDPOINT, with AZURE_TENANT_ID and AZURE_CLIENT_ID)" })
end

return M
