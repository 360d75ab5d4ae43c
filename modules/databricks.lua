-- databricks: account and workspace REST clients.
--
--   local acct = databricks.account{ host = os.getenv("DATABRICKS_ACCOUNT_HOST"),
--                                    account_id = os.getenv("DATABRICKS_ACCOUNT_ID"), credential = cred }
--   local ws = databricks.workspace{ host = "https://adb-123.sim.localhost:8443", credential = cred }
--   local catalogs = ws:list("/api/2.1/unity-catalog/catalogs", nil, "catalogs")
--
-- Requests carry `Authorization: Bearer <token>`: an Entra token for the Databricks resource or a
-- Databricks OAuth M2M token (auth kind databricks_m2m). Errors are drhost.error tables
-- {status, code = error_code, message, details}. Reference: docs/modules/databricks.md.
local http = require("http")
local json = require("json")
local errors = require("errors")
local auth = require("auth")
local web = require("web")

local M = {}

-- Error codes that a 200/400/500 body may carry and that mean "try again later": the http module
-- retries them (the one retry policy: docs/modules/http.md) up to `retries` times.
M.RETRYABLE_CODES = { "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED" }
M.RETRIES = 5
local RETRYABLE = {}
for _, c in ipairs(M.RETRYABLE_CODES) do RETRYABLE[c] = true end

local Client = {}
Client.__index = Client
Client.__name = "drhost.databricks"

local function new_client(kind, opts, level)
  if type(opts) ~= "table" then
    errors.raise({ code = "INVALID_ARGUMENT", message = "databricks." .. kind .. "(opts): opts must be a table" }, level)
  end
  local host = opts.host
  if type(host) ~= "string" or not host:match("^https?://[^/]+") then
    errors.raise({ code = "INVALID_ARGUMENT", message = "databricks." .. kind
           .. ": host must be an http(s) URL like https://adb-1234.5.azuredatabricks.net, got "
           .. tostring(host) }, level)
  end
  if type(opts.credential) ~= "table" or type(opts.credential.token) ~= "function" then
    errors.raise({ code = "INVALID_ARGUMENT", message = "databricks." .. kind
           .. ": credential must be an auth credential (auth.credential/from_env)" }, level)
  end
  host = host:gsub("/+$", "")
  return setmetatable({
    kind = kind, host = host, credential = opts.credential,
    scope = opts.scope or auth.DATABRICKS_SCOPE,
    timeout = opts.timeout or 120, retries = opts.retries or M.RETRIES,
    concurrency = opts.concurrency or 16,
  }, Client)
end

-- databricks.account{host=, account_id=, credential=}: paths not starting with /api/ are relative
-- to /api/2.0/accounts/{account_id}; "{account_id}" in a path is replaced.
function M.account(opts)
  local c = new_client("account", opts, 3)
  if type(opts.account_id) ~= "string" or opts.account_id == "" then
    errors.raise({ code = "INVALID_ARGUMENT", message = "databricks.account: account_id must be a non-empty string" }, 2)
  end
  c.account_id = opts.account_id
  c.base = "/api/2.0/accounts/" .. opts.account_id
  return c
end

-- databricks.workspace{host=, credential=}: paths are full API paths (/api/2.1/unity-catalog/...).
function M.workspace(opts)
  local c = new_client("workspace", opts, 3)
  c.base = ""
  return c
end

function Client:url(path, query)
  if type(path) ~= "string" or path == "" then
    errors.raise({ code = "INVALID_ARGUMENT", message = "databricks: path must be a non-empty string" }, 3)
  end
  if path:match("^https?://") then
    if web.origin(path) ~= web.origin(self.host) then
      errors.raise({ code = "INVALID_ARGUMENT", message = "databricks: refusing to send credentials to "
             .. tostring(web.origin(path)) .. " (client host is " .. self.host .. ")" }, 3)
    end
    return web.append_query(path, query)
  end
  if path:sub(1, 1) ~= "/" then path = "/" .. path end
  if self.account_id then path = path:gsub("{account_id}", self.account_id) end
  if not path:match("^/api/") then path = self.base .. path end
  return web.append_query(self.host .. path, query)
end

function Client:_token()
  return self.credential:token(self.scope, { host = self.host, account_id = self.account_id })
end

-- Decodes an error response into a drhost.error (not raised).
function M.decode_error(resp, what)
  local doc = web.decode(resp.body)
  local code, message, details
  if type(doc) == "table" then
    code = doc.error_code
    message = doc.message
    details = doc.details
    if not code and type(doc.error) == "string" then code = doc.error; message = message or doc.error_description end
    if not message and doc.detail then message = doc.detail end       -- SCIM errors
    if not code and doc.scimType then code = doc.scimType end
  end
  if type(message) ~= "string" or message == "" then
    local text = tostring(resp.body or ""):gsub("%s+", " "):sub(1, 200)
    message = "HTTP " .. tostring(resp.status) .. (text ~= "" and (": " .. text) or "")
  end
  return errors.new{
    code = type(code) == "string" and code or ("HTTP_" .. tostring(resp.status)),
    status = resp.status,
    message = what and (message .. " (" .. what .. ")") or message,
    details = details ~= json.null and details or nil,
  }
end

local function normalize(self, req)
  local method = string.upper(req.method or "GET")
  local body = req.body
  if type(body) == "table" then body = json.encode(body) end
  local url = self:url(req.path, req.query)
  return { method = method, url = url, body = body, what = method .. " " .. req.path }
end

local function to_http(self, r)
  local headers = { Authorization = "Bearer " .. self:_token(), Accept = "application/json" }
  if r.body then headers["Content-Type"] = "application/json" end
  return { method = r.method, url = r.url, body = r.body, headers = headers, timeout = self.timeout,
           retries = self.retries, retry_codes = M.RETRYABLE_CODES }
end

-- Turns a response into {status=, body=} or {status=, error=}.
local function outcome(resp, r)
  if resp.status >= 200 and resp.status < 300 then
    local body = web.decode(resp.body)
    -- a 2xx that still names a retryable error (retries used up) is an error, not a result
    if not (type(body) == "table" and RETRYABLE[body.error_code]) then
      return { status = resp.status, body = body, response = resp }
    end
  end
  return { status = resp.status, error = M.decode_error(resp, r.what), response = resp }
end

-- c:all({ {method=, path=, query=, body=}, ... }, {concurrency=}) -> results;
-- results[i] = {status=, body=} or {status=, error=<drhost.error>} (transport errors too).
-- Nothing is raised for a failed request: callers decide per request.
function Client:all(requests, opts)
  opts = opts or {}
  local norm, results = {}, {}
  for i, req in ipairs(requests) do norm[i] = normalize(self, req) end
  local todo = {}
  for i = 1, #norm do todo[i] = i end
  while #todo > 0 do
    local batch = {}
    for j, i in ipairs(todo) do batch[j] = to_http(self, norm[i]) end
    local resps = http.all(batch, { concurrency = opts.concurrency or self.concurrency })
    local again = {}
    for j, i in ipairs(todo) do
      local resp = resps[j]
      if resp == nil or resp.error then
        results[i] = { error = resp and resp.error or errors.new{ code = "CONNECT_ERROR",
                                                                  message = "no response (" .. norm[i].what .. ")" } }
      elseif resp.status == 401 and not norm[i].reauthed and type(self.credential.invalidate) == "function" then
        -- an expired or revoked token: drop it and send this request once more with a new one
        norm[i].reauthed = true
        self.credential:invalidate()
        again[#again + 1] = i
      else
        results[i] = outcome(resp, norm[i])
      end
    end
    todo = again
  end
  return results
end

-- c:request{method=, path=, query=, body=} -> body, response; raises the decoded error.
function Client:request(req)
  return web.result(self:all({ req }, { concurrency = 1 })[1])
end

-- c:get(path, query) -> body; nil + error when the object does not exist (404).
function Client:get(path, query)
  return web.found(self:all({ { method = "GET", path = path, query = query } }, { concurrency = 1 })[1])
end

local function verb(method)
  return function(self, path, body, query)
    return web.result(self:all({ { method = method, path = path, body = body, query = query } }, { concurrency = 1 })[1])
  end
end
Client.post = verb("POST")
Client.patch = verb("PATCH")
Client.put = verb("PUT")

-- c:delete(path, query) -> true; false + error when it was already absent (404).
function Client:delete(path, query)
  local r = self:all({ { method = "DELETE", path = path, query = query } }, { concurrency = 1 })[1]
  if r.error and r.status == 404 then return false, r.error end
  return true, (web.result(r))
end

-- c:list(path, query, items_key) -> every item, following next_page_token (sent back as
-- page_token). items_key defaults to the first array-valued key of the first page; a body that
-- is itself an array (GET /accounts/{id}/workspaces) is the whole list.
function Client:list(path, query, items_key)
  local q = {}
  for k, v in pairs(query or {}) do q[k] = v end
  return web.pages("databricks list " .. path, function(token)
    q.page_token = token
    local body = self:request{ method = "GET", path = path, query = q }
    if type(body) ~= "table" then body = {} end
    -- some APIs (account workspaces) answer a bare array: one page, no token
    if json.is_array(body) or body[1] ~= nil then return body, nil end
    if not items_key then
      for k, v in pairs(body) do
        if type(v) == "table" and (#v > 0 or json.is_array(v)) then
          items_key = k
          break
        end
      end
    end
    local page = items_key and body[items_key]
    local next_token = body.next_page_token
    if type(next_token) ~= "string" or next_token == "" then next_token = nil end
    return type(page) == "table" and page or {}, next_token
  end)
end

return M
