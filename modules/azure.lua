-- azure: Azure Resource Manager client.
--
--   local arm = azure.client{ credential = cred, endpoint = os.getenv("DRHOST_ARM_ENDPOINT"),
--                             subscription_id = os.getenv("AZURE_SUBSCRIPTION_ID") }
--   local vnet = arm:put(id, "2024-05-01", body)     -- waits for the long-running operation
--
-- Every call carries ?api-version=. PUT/PATCH/DELETE/POST follow long-running operations
-- (Azure-AsyncOperation, Location, or a non-terminal properties.provisioningState) with the poll
-- interval the server gives in Retry-After. Errors are drhost.error tables decoded from ARM's
-- `error` object: {status, code, message, target, details}. Reference: docs/modules/azure.md.
local http = require("http")
local json = require("json")
local log = require("log")
local errors = require("errors")
local auth = require("auth")
local web = require("web")
local task = require("task")

local M = {}

M.DEFAULT_ENDPOINT = "https://management.azure.com"
M.DEFAULT_POLL = 5          -- seconds between polls when the server sends no Retry-After
M.DEFAULT_TIMEOUT = 3600    -- seconds one long-running operation may take
-- Error codes that mean "busy, try again" (ARM answers them with 409 while a resource is updating;
-- ConcurrentUpdateError: Microsoft.Databricks/workspaces while another update runs). A write that
-- meets one is retried by the http module (the one retry policy: docs/modules/http.md) with the
-- server's Retry-After, else a backoff of up to 60 s, at most `conflict_retries` times and for at
-- most `conflict_timeout` seconds in all.
M.RETRYABLE_CONFLICTS = { "AnotherOperationInProgress", "RetryableError", "ConcurrentUpdateError" }
M.CONFLICT_TIMEOUT = 900

local TERMINAL = { succeeded = "Succeeded", failed = "Failed", canceled = "Canceled", cancelled = "Canceled" }

local Client = {}
Client.__index = Client
Client.__name = "drhost.arm"

-- azure.client(opts) -> ARM client. opts: credential (required), endpoint, subscription_id, scope,
-- poll_interval, timeout (per long-running operation), concurrency, conflict_retries,
-- conflict_timeout, request_timeout.
function M.client(opts)
  if type(opts) ~= "table" then
    error(errors.new({ code = "INVALID_ARGUMENT", message = "azure.client(opts): opts must be a table" }, 2), 0)
  end
  if type(opts.credential) ~= "table" or type(opts.credential.token) ~= "function" then
    error(errors.new({ code = "INVALID_ARGUMENT",
      message = "azure.client: credential must be an auth credential (auth.credential/from_env)" }, 2), 0)
  end
  local endpoint = opts.endpoint or os.getenv("DRHOST_ARM_ENDPOINT") or M.DEFAULT_ENDPOINT
  if type(endpoint) ~= "string" or not endpoint:match("^https?://[^/]+") then
    error(errors.new({ code = "INVALID_ARGUMENT",
                       message = "azure.client: endpoint must be an http(s) URL, got " .. tostring(endpoint) }, 2), 0)
  end
  endpoint = endpoint:gsub("/+$", "")
  return setmetatable({
    credential = opts.credential,
    endpoint = endpoint,
    origin = web.origin(endpoint),
    subscription_id = opts.subscription_id or os.getenv("AZURE_SUBSCRIPTION_ID"),
    scope = opts.scope or auth.ARM_SCOPE,
    poll_interval = opts.poll_interval or M.DEFAULT_POLL,
    timeout = opts.timeout or M.DEFAULT_TIMEOUT,
    concurrency = opts.concurrency or 8,
    conflict_retries = opts.conflict_retries or 20,
    conflict_timeout = opts.conflict_timeout or M.CONFLICT_TIMEOUT,
    request_timeout = opts.request_timeout or 120,
  }, Client)
end

-- "/subscriptions/<sub>" .. rel
function Client:subscription_path(rel)
  if not self.subscription_id then
    errors.raise({ code = "INVALID_ARGUMENT", message = "azure client has no subscription_id (AZURE_SUBSCRIPTION_ID)" }, 2)
  end
  return "/subscriptions/" .. self.subscription_id .. (rel or "")
end

function Client:url(path, api_version, query)
  if type(path) ~= "string" or path == "" then
    errors.raise({ code = "INVALID_ARGUMENT", message = "ARM path/id must be a non-empty string, got " .. tostring(path) }, 2)
  end
  local url
  if path:match("^https?://") then
    url = path
  else
    if path:sub(1, 1) ~= "/" then path = "/" .. path end
    url = self.endpoint .. path
  end
  if api_version and not url:find("[?&]api%-version=") then
    url = web.append_query(url, "api-version=" .. web.urlencode(api_version))
  end
  return web.append_query(url, query)
end

local function header(resp, name)
  return resp.headers and resp.headers[name:lower()]
end

-- seconds to wait before the next poll: Retry-After of this response (seconds), else the last one
-- this operation was given, else the client's poll_interval
local function retry_after(self, resp, op)
  local v = tonumber(header(resp, "Retry-After") or "")
  if v and v >= 0 then
    if op then op.retry_after = v end
    return v
  end
  return op and op.retry_after or self.poll_interval
end

-- Decodes an ARM error response into a drhost.error (not raised).
function M.decode_error(resp, what)
  local doc = web.decode(resp.body)
  local e = {}
  if type(doc) == "table" then
    if type(doc.error) == "table" then e = doc.error
    elseif doc.code or doc.message then e = doc end
  end
  local message = e.message
  if type(message) ~= "string" or message == "" then
    local text = tostring(resp.body or ""):gsub("%s+", " "):sub(1, 200)
    message = "HTTP " .. tostring(resp.status) .. (text ~= "" and (": " .. text) or "")
  end
  return errors.new{
    code = type(e.code) == "string" and e.code or ("HTTP_" .. tostring(resp.status)),
    status = resp.status,
    message = what and (message .. " (" .. what .. ")") or message,
    target = e.target,
    details = e.details,
    request_id = header(resp, "x-ms-request-id"),
  }
end

local function op_error(body, what)
  local e = type(body) == "table" and (body.error or (body.properties and body.properties.error)) or nil
  if type(e) ~= "table" then e = {} end
  local status = type(body) == "table" and (body.status or (body.properties and body.properties.provisioningState))
  return errors.new{
    code = type(e.code) == "string" and e.code or ("OPERATION_" .. string.upper(tostring(status or "FAILED"))),
    message = (e.message or ("long-running operation ended " .. tostring(status))) .. " (" .. what .. ")",
    target = e.target, details = e.details, operation_status = status,
  }
end

local function provisioning_state(body)
  if type(body) == "table" and type(body.properties) == "table" then
    return body.properties.provisioningState
  end
  return nil
end

---------------------------------------------------------------------------------------------------
-- operations: one state machine per request, driven together so many can run at once
---------------------------------------------------------------------------------------------------
local function new_op(self, req)
  if type(req) ~= "table" then
    errors.raise({ code = "INVALID_ARGUMENT", message = "ARM request must be a table {method=, path=, api_version=}" }, 2)
  end
  local method = string.upper(req.method or "GET")
  local path = req.path or req.id
  if not req.raw and not req.api_version and not (type(path) == "string" and path:find("api%-version=")) then
    errors.raise({ code = "INVALID_ARGUMENT",
          message = "ARM " .. method .. " " .. tostring(path) .. ": api_version is required" }, 2)
  end
  local body = req.body
  if type(body) == "table" then body = json.encode(body) end
  local wait = req.wait
  if wait == nil then wait = method ~= "GET" end
  return {
    method = method, path = path, url = self:url(path, req.api_version, req.query), body = body,
    wait = wait, phase = "start", not_before = 0,
    what = method .. " " .. tostring(path),
    timeout = req.timeout or self.timeout,
  }
end

function Client:_headers(url, has_body)
  if web.origin(url) ~= self.origin then
    errors.raise({ code = "INVALID_ARGUMENT",
          message = "refusing to send ARM credentials to " .. tostring(web.origin(url))
            .. " (client endpoint is " .. self.origin .. ")" }, 2)
  end
  local h = { Authorization = "Bearer " .. self.credential:token(self.scope), Accept = "application/json" }
  if has_body then h["Content-Type"] = "application/json" end
  return h
end

function Client:_http_request(op)
  local method, url, body = "GET", op.poll_url, nil
  if op.phase == "start" then
    method, url, body = op.method, op.url, op.body
  elseif op.phase == "final" then
    url = op.final_url
  end
  local req = { method = method, url = url, body = body, headers = self:_headers(url, body ~= nil),
                timeout = self.request_timeout }
  if method ~= "GET" then
    req.retry_codes, req.retries, req.retry_for = M.RETRYABLE_CONFLICTS, self.conflict_retries, self.conflict_timeout
    req.backoff_base, req.max_backoff = 1, 60
  end
  return req
end

local function finish(op, body, resp)
  op.done, op.result = true, { body = body, status = resp and resp.status, response = resp }
end

local function finish_error(op, err, resp)
  op.done, op.result = true, { error = err, status = resp and resp.status or err.status, response = resp }
end

local function absolute(self, url)
  if url and url:sub(1, 1) == "/" then return self.endpoint .. url end
  return url
end

local function start_polling(self, op, kind, url, resp)
  op.phase, op.poll_kind, op.poll_url = "poll", kind, absolute(self, url)
  op.started_at = op.started_at or web.now()
  op.not_before = web.now() + retry_after(self, resp, op)
  log.debug("arm: waiting for operation", { op = op.what, poll = kind })
end

function Client:_step_start(op, resp)
  local status = resp.status
  if status < 200 or status >= 300 then
    local err = M.decode_error(resp, op.what)
    op.not_found = status == 404
    return finish_error(op, err, resp)
  end
  local body = web.decode(resp.body)
  op.start_body = body
  if not op.wait or op.method == "GET" then return finish(op, body, resp) end
  local async = header(resp, "Azure-AsyncOperation")
  local location = header(resp, "Location")
  if async and status ~= 204 then
    if op.method == "PUT" or op.method == "PATCH" then op.final_url = op.url
    elseif op.method == "POST" and location then op.final_url = absolute(self, location) end
    return start_polling(self, op, "async", async, resp)
  end
  if location and (status == 202 or status == 201) then
    return start_polling(self, op, "location", location, resp)
  end
  local state = provisioning_state(body)
  if state and (op.method == "PUT" or op.method == "PATCH" or op.method == "DELETE") then
    local terminal = TERMINAL[tostring(state):lower()]
    if terminal == "Succeeded" then return finish(op, body, resp) end
    if terminal then return finish_error(op, op_error(body, op.what), resp) end
    if op.method == "DELETE" then
      return start_polling(self, op, "gone", op.url, resp)
    end
    return start_polling(self, op, "state", op.url, resp)
  end
  return finish(op, body, resp)
end

function Client:_step_poll(op, resp)
  local status = resp.status
  local kind = op.poll_kind
  if kind == "gone" and status == 404 then return finish(op, nil, resp) end
  if status < 200 or status >= 300 then
    return finish_error(op, M.decode_error(resp, op.what .. " [polling " .. kind .. "]"), resp)
  end
  local body = web.decode(resp.body)
  if kind == "async" then
    local terminal = TERMINAL[tostring(type(body) == "table" and body.status or ""):lower()]
    if terminal == "Succeeded" then
      if op.final_url then
        op.phase = "final"
        op.not_before = 0
        return
      end
      return finish(op, op.method == "DELETE" and nil or (op.start_body or body), resp)
    elseif terminal then
      return finish_error(op, op_error(body, op.what), resp)
    end
  elseif kind == "location" then
    if status ~= 202 then return finish(op, body, resp) end
  else -- "state" or "gone": GET of the resource itself
    local terminal = TERMINAL[tostring(provisioning_state(body) or "Succeeded"):lower()]
    if kind == "state" and terminal == "Succeeded" then return finish(op, body, resp) end
    if terminal and terminal ~= "Succeeded" then return finish_error(op, op_error(body, op.what), resp) end
  end
  -- not finished yet: poll again after Retry-After, within the operation's time limit
  if web.now() - op.started_at > op.timeout then
    return finish_error(op, errors.new{ code = "LRO_TIMEOUT", message = string.format(
      "long-running operation did not finish within %d s (%s)", op.timeout, op.what) }, resp)
  end
  op.not_before = web.now() + retry_after(self, resp, op)
end

function Client:_step(op, resp)
  if op.phase == "start" then return self:_step_start(op, resp) end
  if op.phase == "poll" then return self:_step_poll(op, resp) end
  -- final GET after a successful async operation
  if resp.status >= 200 and resp.status < 300 then return finish(op, web.decode(resp.body), resp) end
  return finish_error(op, M.decode_error(resp, op.what), resp)
end

-- Drives one operation to its end: start, polls after Retry-After, the final GET.
local function drive(self, op)
  while not op.done do
    local wait = op.not_before - web.now()
    if wait > 0 then web.sleep(math.max(0.05, wait)) end
    local okq, req = pcall(self._http_request, self, op)
    if not okq then return finish_error(op, req) end
    local ok, resp = pcall(http.request, req)
    if not ok then
      if errors.is(resp, "CANCELLED") then error(resp, 0) end
      finish_error(op, errors.wrap(resp))
    elseif resp.status == 401 and not op.reauthed and type(self.credential.invalidate) == "function" then
      -- an expired or revoked token: drop it and send this request once more with a new one
      op.reauthed = true
      self.credential:invalidate()
    else
      local ok2, err = pcall(self._step, self, op, resp)
      if not ok2 then finish_error(op, err, resp) end
    end
  end
end

-- arm:run_many(requests, {concurrency=}) -> results. Each request is
-- {method=, path=, api_version=, body=, query=, wait=, timeout=}; results[i] = {body=, status=, response=}
-- or {error=<drhost.error>, status=}. Failures are per request: nothing is raised for them.
-- Each operation runs as a task (modules/task.lua), at most `concurrency` at once, so their
-- requests and polls go out together and none waits for another's retries.
function Client:run_many(requests, opts)
  opts = opts or {}
  local ops = {}
  for i, r in ipairs(requests) do ops[i] = new_op(self, r) end
  local ran = task.map(ops, function(op) return drive(self, op) end, { concurrency = opts.concurrency or self.concurrency })
  local results = {}
  for i, op in ipairs(ops) do
    if not ran[i].ok then
      if errors.is(ran[i].error, "CANCELLED") then error(ran[i].error, 0) end
      finish_error(op, errors.wrap(ran[i].error))
    end
    results[i] = op.result
  end
  return results
end

-- arm:request{method=, path=, api_version=, body=, query=, wait=true} -> body, response.
-- Raises the decoded error (404 included).
function Client:request(req)
  return web.result(self:run_many({ req }, { concurrency = 1 })[1])
end

function Client:get(id, api_version, query)
  return web.found(self:run_many({ { method = "GET", path = id, api_version = api_version, query = query } })[1])
end

local function write(method)
  return function(self, id, api_version, body, opts)
    opts = opts or {}
    return web.result(self:run_many({ { method = method, path = id, api_version = api_version, body = body,
                                        wait = opts.wait, query = opts.query, timeout = opts.timeout } })[1])
  end
end
Client.put = write("PUT")
Client.patch = write("PATCH")
Client.post = write("POST")

-- arm:delete(id, api_version) -> true when deleted (or already absent: 204 / 404).
function Client:delete(id, api_version, opts)
  opts = opts or {}
  local r = self:run_many({ { method = "DELETE", path = id, api_version = api_version,
                              wait = opts.wait, timeout = opts.timeout } })[1]
  if r.error and r.status == 404 then return false, r.error end
  return true, select(2, web.result(r))
end

-- arm:put_many({ {id=, api_version=, body=}, ... }, {concurrency=}) -> results as run_many.
function Client:put_many(list, opts)
  local reqs = {}
  for i, item in ipairs(list) do
    reqs[i] = { method = "PUT", path = item.id or item.path, api_version = item.api_version,
                body = item.body, timeout = item.timeout }
  end
  return self:run_many(reqs, opts)
end

-- arm:list(path, api_version [, query]) -> every item of `value`, following nextLink; pages requested.
function Client:list(path, api_version, query)
  local pages = 0
  local items = web.pages("ARM list " .. path, function(url)
    pages = pages + 1
    local r = self:run_many({ { method = "GET", path = url or self:url(path, api_version, query), raw = true } })[1]
    if r.error then error(r.error, 0) end
    local body = r.body or {}
    local next_link = body.nextLink
    if next_link == json.null or next_link == "" then next_link = nil end
    return body.value, absolute(self, next_link)
  end)
  return items, pages
end

-- Azure Resource Graph (the query API; contract: azure-mgmt-resourcegraph QueryRequest/QueryResponse).
M.GRAPH_API_VERSION = "2021-03-01"
M.GRAPH_PATH = "/providers/Microsoft.ResourceGraph/resources"

-- arm:graph_query(query [, {subscriptions=, page_size=}]) -> rows (objectArray), pages requested.
-- One POST per page of at most page_size (default and maximum 1000) rows, following $skipToken;
-- the scope is this client's subscription unless `subscriptions` names others.
function Client:graph_query(query, opts)
  opts = opts or {}
  if type(query) ~= "string" or query == "" then
    errors.raise({ code = "INVALID_ARGUMENT", message = "arm:graph_query(query): query must be a non-empty string" }, 2)
  end
  local subs = opts.subscriptions or { self.subscription_id }
  if #subs == 0 or subs[1] == nil then
    errors.raise({ code = "INVALID_ARGUMENT", message = "arm:graph_query: no subscription to query (AZURE_SUBSCRIPTION_ID)" }, 2)
  end
  local pages = 0
  local rows = web.pages("Resource Graph query", function(token)
    pages = pages + 1
    local options = { ["$top"] = opts.page_size or 1000, resultFormat = "objectArray", ["$skipToken"] = token }
    local r = self:run_many({ { method = "POST", path = M.GRAPH_PATH, api_version = M.GRAPH_API_VERSION,
      body = { subscriptions = subs, query = query, options = options } } })[1]
    if r.error then error(r.error, 0) end
    local body = r.body or {}
    local nxt = body["$skipToken"]
    if nxt == json.null or nxt == "" then nxt = nil end
    return body.data, nxt
  end)
  return rows, pages
end

return M
