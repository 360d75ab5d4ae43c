-- sql: the Databricks SQL Statement Execution API (POST /api/2.0/sql/statements).
--
--   local conn = sql.connect{ workspace = ws, warehouse_id = "abc123", catalog = "main" }
--   local rows, meta = conn:query("SELECT * FROM t WHERE id = :id", { id = 5 })
--   print(rows[1].name, meta.columns[1])
--
-- Values only ever travel as named parameters; identifiers are quoted with sql.ident. Statements
-- are submitted with wait_timeout and on_wait_timeout=CONTINUE, then polled; past the caller's
-- timeout they are cancelled and SQL_TIMEOUT is raised. Every chunk of the result is fetched and
-- rows come back as tables keyed by column name with typed values. Reference: docs/modules/sql.md.
local json = require("json")
local log = require("log")
local errors = require("errors")
local web = require("web")

local M = {}

M.STATEMENTS = "/api/2.0/sql/statements"
M.DEFAULT_WAIT = "10s"
M.DEFAULT_TIMEOUT = 600
M.MAX_POLL = 2          -- seconds: the longest pause between two polls

---------------------------------------------------------------------------------------------------
-- identifiers
---------------------------------------------------------------------------------------------------
-- sql.ident_part(s) -> "`s`" with backticks doubled. Refuses empty names and control characters.
function M.ident_part(s, whole)
  if type(s) ~= "string" then
    errors.raise({ code = "INVALID_IDENTIFIER", message = "SQL identifier must be a string, got " .. type(s) }, 2)
  end
  local context = whole and (" in " .. string.format("%q", whole)) or ""
  if s == "" then
    errors.raise({ code = "INVALID_IDENTIFIER", message = "SQL identifier has an empty name part" .. context }, 2)
  end
  local bad = s:find("%c")
  if bad then
    errors.raise({ code = "INVALID_IDENTIFIER", message = string.format(
      "SQL identifier %q contains a control character (byte %d at position %d)%s",
      s, s:byte(bad), bad, context) }, 2)
  end
  return "`" .. s:gsub("`", "``") .. "`"
end

-- sql.ident("a.b.c") -> "`a`.`b`.`c`". A table of parts ({"a", "b.c"}) keeps dots inside names.
function M.ident(name)
  local parts = {}
  if type(name) == "table" then
    for i, p in ipairs(name) do parts[i] = p end
    if #parts == 0 then errors.raise({ code = "INVALID_IDENTIFIER", message = "SQL identifier has no parts" }, 2) end
    name = table.concat(parts, ".")
  elseif type(name) == "string" then
    if name == "" then errors.raise({ code = "INVALID_IDENTIFIER", message = "SQL identifier is empty" }, 2) end
    local start = 1
    while true do
      local dot = name:find(".", start, true)
      if not dot then parts[#parts + 1] = name:sub(start); break end
      parts[#parts + 1] = name:sub(start, dot - 1)
      start = dot + 1
    end
  else
    errors.raise({ code = "INVALID_IDENTIFIER", message = "SQL identifier must be a string, got " .. type(name) }, 2)
  end
  local quoted = {}
  for i, p in ipairs(parts) do
    local ok, res = pcall(M.ident_part, p, name)
    if not ok then error(res, 2) end
    quoted[i] = res
  end
  return table.concat(quoted, ".")
end

---------------------------------------------------------------------------------------------------
-- parameters
---------------------------------------------------------------------------------------------------
local function param_of(name, v)
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    errors.raise({ code = "INVALID_PARAMETER", message = string.format(
      "SQL parameter name %s must match [A-Za-z_][A-Za-z0-9_]*", tostring(name)) }, 3)
  end
  local typ
  if type(v) == "table" and v ~= json.null then
    typ = v.type
    v = v.value
    if v == nil then v = json.null end
    if typ ~= nil and (type(typ) ~= "string" or not typ:match("^[%a][%w_ (),]*$")) then
      errors.raise({ code = "INVALID_PARAMETER", message = "SQL parameter :" .. name .. ": type must be a SQL type name" }, 3)
    end
  end
  local p = { name = name }
  local tv = type(v)
  if v == json.null or v == nil then
    p.type = typ or "STRING"        -- value left out: the parameter is NULL
    return p
  elseif tv == "boolean" then
    p.value, p.type = v and "true" or "false", typ or "BOOLEAN"
  elseif tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      errors.raise({ code = "INVALID_PARAMETER", message = "SQL parameter :" .. name .. " is not a finite number" }, 3)
    end
    if math.type(v) == "integer" then
      p.value, p.type = string.format("%d", v), typ or "BIGINT"
    else
      p.value, p.type = string.format("%.17g", v), typ or "DOUBLE"
    end
  elseif tv == "string" then
    p.value, p.type = v, typ or "STRING"
  else
    errors.raise({ code = "INVALID_PARAMETER", message = "SQL parameter :" .. name
           .. " has a " .. tv .. " value (expected string, number, boolean or json.null)" }, 3)
  end
  return p
end

-- sql.parameters(params) -> the API's list of {name, value, type}. params is a map
-- name -> value (or {value=, type=}), or a list of {name=, value=, type=}.
function M.parameters(params)
  local list = {}
  if params == nil then return json.array(list) end
  if type(params) ~= "table" then
    errors.raise({ code = "INVALID_PARAMETER", message = "SQL parameters must be a table, got " .. type(params) }, 2)
  end
  if #params > 0 then
    for _, p in ipairs(params) do
      if type(p) ~= "table" then
        errors.raise({ code = "INVALID_PARAMETER", message = "SQL parameter list entries must be {name=, value=}" }, 2)
      end
      list[#list + 1] = param_of(p.name, { value = p.value, type = p.type })
    end
  else
    local names = {}
    for k in pairs(params) do names[#names + 1] = k end
    table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(names) do list[#list + 1] = param_of(k, params[k]) end
  end
  return json.array(list)
end

---------------------------------------------------------------------------------------------------
-- typed rows
---------------------------------------------------------------------------------------------------
local INTEGER = { INT = true, INTEGER = true, BIGINT = true, LONG = true, SHORT = true, SMALLINT = true,
                  BYTE = true, TINYINT = true }
local NUMBER = { FLOAT = true, DOUBLE = true, DECIMAL = true, REAL = true }
local SPECIAL = { NaN = 0 / 0, Infinity = math.huge, ["+Infinity"] = math.huge, ["-Infinity"] = -math.huge }

-- sql.convert(value, type_name) -> Lua value for one JSON_ARRAY cell.
function M.convert(v, type_name)
  if v == nil or v == json.null then return json.null end
  local t = string.upper(tostring(type_name or "STRING")):match("^(%a+)")
  if INTEGER[t] then
    local n = tonumber(v)
    if n == nil then return v end
    return math.tointeger(n) or n
  elseif NUMBER[t] then
    if SPECIAL[v] then return SPECIAL[v] end
    local n = tonumber(v)
    if n == nil then return v end
    return n
  elseif t == "BOOLEAN" then
    if v == true or v == "true" or v == "TRUE" then return true end
    if v == false or v == "false" or v == "FALSE" then return false end
    return v
  end
  if type(v) == "table" then return json.encode(v) end
  return tostring(v)
end

-- sql.rows(data_array, columns) -> list of rows keyed by column name.
function M.rows(data, columns, into)
  local rows = into or {}
  for _, cells in ipairs(data or {}) do
    local row = {}
    for i, col in ipairs(columns) do row[col.name] = M.convert(cells[i], col.type_name) end
    rows[#rows + 1] = row
  end
  return rows
end

---------------------------------------------------------------------------------------------------
-- connection
---------------------------------------------------------------------------------------------------
local Conn = {}
Conn.__index = Conn
Conn.__name = "drhost.sql"

local function check_wait(w)
  local n = type(w) == "string" and tonumber(w:match("^(%d+)s$"))
  if not n or not (n == 0 or (n >= 5 and n <= 50)) then
    errors.raise({ code = "INVALID_ARGUMENT", message = "sql.connect: wait_timeout must be \"0s\" or \"5s\"..\"50s\", got "
           .. tostring(w) }, 3)
  end
  return w
end

-- sql.connect{workspace=, warehouse_id=, catalog=, schema=, wait_timeout="10s", timeout=600}
function M.connect(opts)
  if type(opts) ~= "table" then
    errors.raise({ code = "INVALID_ARGUMENT", message = "sql.connect(opts): opts must be a table" }, 2)
  end
  local ws = opts.workspace
  if type(ws) ~= "table" or type(ws.all) ~= "function" then
    errors.raise({ code = "INVALID_ARGUMENT", message = "sql.connect: workspace must be a databricks.workspace client" }, 2)
  end
  if type(opts.warehouse_id) ~= "string" or opts.warehouse_id == "" then
    errors.raise({ code = "INVALID_ARGUMENT", message = "sql.connect: warehouse_id must be a non-empty string" }, 2)
  end
  return setmetatable({
    workspace = ws, warehouse_id = opts.warehouse_id, catalog = opts.catalog, schema = opts.schema,
    wait_timeout = check_wait(opts.wait_timeout or M.DEFAULT_WAIT),
    timeout = opts.timeout or M.DEFAULT_TIMEOUT,
    concurrency = opts.concurrency or 8,
    max_poll = opts.max_poll or M.MAX_POLL,
  }, Conn)
end

-- The request body of one statement.
function Conn:body(statement, params)
  if type(statement) ~= "string" or statement:match("^%s*$") then
    errors.raise({ code = "INVALID_ARGUMENT", message = "SQL statement must be a non-empty string" }, 3)
  end
  local body = {
    statement = statement, warehouse_id = self.warehouse_id,
    wait_timeout = self.wait_timeout, on_wait_timeout = "CONTINUE",
    disposition = "INLINE", format = "JSON_ARRAY",
    catalog = self.catalog, schema = self.schema,
  }
  local plist = M.parameters(params)
  if #plist > 0 then body.parameters = plist end
  return body
end

local function statement_error(op, status)
  local e = type(status.error) == "table" and status.error or {}
  local state = status.state
  local code = e.error_code
  if type(code) ~= "string" or code == "" then
    code = state == "FAILED" and "SQL_FAILED" or ("SQL_" .. tostring(state))
  end
  local message = type(e.message) == "string" and e.message or ("statement " .. tostring(state))
  return errors.new{
    code = code, message = message .. " [statement " .. tostring(op.id) .. "]",
    -- the Databricks error class is the bracketed prefix of the message: "[TABLE_OR_VIEW_NOT_FOUND] ..."
    error_class = message:match("^%[([%w_%.]+)%]"),
    sql_state = status.sql_state, statement_id = op.id, state = state, statement = op.statement:sub(1, 200),
  }
end

local function chunk_path(op)
  local result = op.last_result or {}
  local link = result.next_chunk_internal_link
  if type(link) == "string" and link ~= "" then return link end
  local idx = result.next_chunk_index
  if type(idx) == "number" then
    return M.STATEMENTS .. "/" .. op.id .. "/result/chunks/" .. string.format("%d", idx)
  end
  -- no link: fall back on the manifest's chunk count (chunk 0 when the response had no result)
  local total = op.manifest and tonumber(op.manifest.total_chunk_count)
  local next_index
  if type(result.chunk_index) == "number" then next_index = result.chunk_index + 1
  elseif op.chunks_seen == 0 then next_index = 0 end
  if total and next_index and next_index < total then
    return M.STATEMENTS .. "/" .. op.id .. "/result/chunks/" .. string.format("%d", next_index)
  end
  return nil
end

local function take_result(op, result)
  op.last_result = type(result) == "table" and result or {}
  if type(result) == "table" then op.chunks_seen = op.chunks_seen + 1 end
  M.rows(op.last_result.data_array, op.columns, op.rows)
  op.next_chunk = chunk_path(op)
  op.phase = op.next_chunk and "chunk" or "done"
end

local function finish(op, err)
  op.phase = "done"
  op.error = err
end

local function handle_status(self, op, body)
  if type(body) ~= "table" then return finish(op, errors.new{ code = "SQL_BAD_RESPONSE",
    message = "the statement API answered without a JSON body" }) end
  op.id = op.id or body.statement_id
  local status = type(body.status) == "table" and body.status or {}
  local state = status.state
  op.ended = state == "SUCCEEDED" or state == "FAILED" or state == "CANCELED" or state == "CLOSED"
  if state == "SUCCEEDED" then
    op.manifest = type(body.manifest) == "table" and body.manifest or {}
    local schema = type(op.manifest.schema) == "table" and op.manifest.schema or {}
    op.columns = {}
    for i, c in ipairs(schema.columns or {}) do
      op.columns[i] = { name = c.name, type_name = c.type_name or c.type_text }
    end
    if op.manifest.truncated == true then
      log.warn("sql: result truncated by the server", { statement_id = op.id })
    end
    return take_result(op, body.result)
  elseif state == "FAILED" or state == "CANCELED" or state == "CLOSED" then
    return finish(op, statement_error(op, status))
  elseif state == "PENDING" or state == "RUNNING" then
    if not op.id then
      return finish(op, errors.new{ code = "SQL_BAD_RESPONSE", message = "statement is " .. state
        .. " but the response has no statement_id" })
    end
    if web.now() >= op.deadline then
      op.cancel = true
      return finish(op, errors.new{ code = "SQL_TIMEOUT", statement_id = op.id,
        message = string.format("statement %s did not finish within %s s and was cancelled", op.id, op.timeout),
        statement = op.statement:sub(1, 200) })
    end
    op.phase = "poll"
    op.not_before = web.now() + op.interval
    op.interval = math.min(self.max_poll, op.interval * 2)
    return
  end
  return finish(op, errors.new{ code = "SQL_BAD_RESPONSE",
    message = "unexpected statement state " .. tostring(state) .. " [statement " .. tostring(op.id) .. "]" })
end

local function meta_of(op)
  local names, types = {}, {}
  for i, c in ipairs(op.columns or {}) do names[i], types[i] = c.name, c.type_name end
  local manifest = op.manifest or {}
  return { columns = names, types = types, statement_id = op.id, row_count = #op.rows,
           total_row_count = tonumber(manifest.total_row_count), truncated = manifest.truncated == true,
           chunks = op.chunks_seen }
end

-- Drives the statements of one many() call to their end: submit, poll, fetch chunks, and cancel
-- those that failed or ran past their timeout.
local function run_ops(self, ws, ops, concurrency)
  local next_new = 1
  while true do
    local active, batch, batch_ops, wake = 0, {}, {}, nil
    local now = web.now()
    for _, op in ipairs(ops) do
      if op.phase ~= "new" and op.phase ~= "done" then active = active + 1 end
    end
    while next_new <= #ops and active < concurrency do
      local op = ops[next_new]
      next_new = next_new + 1
      if op.phase == "new" then
        op.phase, op.deadline, active = "submit", now + op.timeout, active + 1
      end
    end
    for _, op in ipairs(ops) do
      local req
      if op.phase == "submit" then
        req = { method = "POST", path = M.STATEMENTS, body = op.body }
      elseif op.phase == "poll" then
        if op.not_before <= now then
          req = { method = "GET", path = M.STATEMENTS .. "/" .. op.id }
        else
          wake = math.min(wake or op.not_before, op.not_before)
        end
      elseif op.phase == "chunk" then
        req = { method = "GET", path = op.next_chunk }
      end
      if req then batch[#batch + 1], batch_ops[#batch_ops + 1] = req, op end
    end
    if #batch == 0 then
      if active == 0 and next_new > #ops then break end
      web.sleep(math.max(0.05, (wake or now + 0.1) - now))
    else
      local results = ws:all(batch, { concurrency = concurrency })
      local cancels, cancelled = {}, {}
      for j, op in ipairs(batch_ops) do
        local r = results[j]
        if r.error then
          finish(op, r.error)
          if op.id then op.cancel = true end -- a poll failed: do not leave the statement running
        else
          local ok, err
          if op.phase == "chunk" then ok, err = pcall(take_result, op, r.body)
          else ok, err = pcall(handle_status, self, op, r.body) end
          if not ok then finish(op, err) end
        end
        if op.cancel then
          op.cancel = false
          cancels[#cancels + 1] = { method = "POST", path = M.STATEMENTS .. "/" .. op.id .. "/cancel" }
          cancelled[#cancelled + 1] = op
        end
      end
      if #cancels > 0 then
        for k, r in ipairs(ws:all(cancels, { concurrency = concurrency })) do
          local op = cancelled[k]
          op.ended = op.ended or not r.error
        end
      end
    end
  end
end

-- conn:many({ {statement, params}, ... } or { {statement=, params=}, ... }, {concurrency=, timeout=})
-- -> results; results[i] = {rows=, meta=} or {error=<drhost.error>}. At most `concurrency`
-- statements run at once; nothing is raised for a failed statement.
function Conn:many(list, opts)
  opts = opts or {}
  local concurrency = opts.concurrency or self.concurrency
  local ops = {}
  for i, item in ipairs(list) do
    local statement, params
    if type(item) == "string" then statement = item
    elseif type(item) == "table" then
      statement, params = item.statement or item[1], item.params or item[2]
    end
    local op = { index = i, phase = "new", statement = statement, rows = {}, chunks_seen = 0,
                 interval = opts.poll_interval or 0.1, not_before = 0,
                 timeout = opts.timeout or self.timeout }
    local ok, body = pcall(self.body, self, statement, params)
    if ok then op.body = body else finish(op, body) end
    ops[i] = op
  end
  local ws = self.workspace
  -- Ctrl-C: the host runs this once it has unwound (a pcall cannot catch CANCELLED), so no
  -- statement this call started keeps running on the warehouse. A statement whose submission
  -- is still waiting for its answer (up to wait_timeout) has no id yet and cannot be named.
  local function cancel_running()
    local cancels = {}
    for _, op in ipairs(ops) do
      if op.id and not op.ended then
        cancels[#cancels + 1] = { method = "POST", path = M.STATEMENTS .. "/" .. op.id .. "/cancel" }
      end
    end
    if #cancels > 0 then ws:all(cancels, { concurrency = concurrency }) end
  end
  local forget_cancel = errors.on_cancel(cancel_running)
  local ok, failure = pcall(run_ops, self, ws, ops, concurrency)
  if ok or not errors.is(failure, "CANCELLED") then forget_cancel() end
  if not ok then error(failure, 0) end
  local out = {}
  for i, op in ipairs(ops) do
    if op.error then out[i] = { error = op.error }
    else
      out[i] = { rows = json.array(op.rows), meta = meta_of(op) }
    end
  end
  return out
end

-- conn:query(statement, params [, opts]) -> rows, meta. Raises the statement's error.
function Conn:query(statement, params, opts)
  local r = self:many({ { statement, params } }, opts)[1]
  if r.error then error(r.error, 2) end
  return r.rows, r.meta
end

-- conn:exec(statement, params [, opts]) -> meta (rows in meta.rows). Raises the statement's error.
function Conn:exec(statement, params, opts)
  local r = self:many({ { statement, params } }, opts)[1]
  if r.error then error(r.error, 2) end
  r.meta.rows = r.rows
  return r.meta
end

return M
