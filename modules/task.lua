-- task: the task runtime that deployment and replication run their work on.
--
--   local rt = task.runtime{ concurrency = 8 }
--   rt:spawn(function() return arm:put(id, api, body) end, function(ok, v) ... end)
--   rt:run()                                         -- until every task (and those spawned) ended
--   local results = task.map(list, fn, { concurrency = 8 })
--   local walk = task.walk(g, function(node) ... end, { concurrency = 8, on_skip = ... })
--
-- A task is a coroutine marked with http.cooperate: inside it http.request, http.all and
-- http.sleep yield to the runtime instead of blocking (see docs/modules/http.md, "Tasks"). The
-- runtime starts the requests of every asking task at once on the one libcurl multi handle
-- (http.start), so many resources are read, created and polled at the same time, resumes each task
-- as soon as its own responses are in (http.poll), and wakes sleeping tasks when their time has
-- come. The same calls outside a task block as usual. A runtime run inside a task gathers its
-- tasks' requests into one http.all per round, which yields to the outer runtime. With
-- concurrency = 1 the tasks run strictly one at a time (the serial baseline of `make bench`).
-- A SIGINT during the run (CANCELLED from http.poll, http.all or http.sleep) closes every running
-- task and raises the CANCELLED error from run(). Reference: docs/architecture.md, "Concurrency".
local http = require("http")
local errors = require("errors")

local M = {}

local Runtime = {}
Runtime.__index = Runtime

--- task.runtime{concurrency = N} (default 8): at most N tasks run at once.
function M.runtime(opts)
  opts = opts or {}
  return setmetatable({
    n = math.max(1, math.tointeger(opts.concurrency) or 8),
    queue = {}, running = {}, tasks = {}, handles = {},
    stats = { tasks = 0, batches = 0, requests = 0, max_in_flight = 0, max_batch = 0 },
  }, Runtime)
end

--- rt:spawn(fn, done): queues fn(); done(ok, result_or_error) runs when it ends (and may spawn).
function Runtime:spawn(fn, done)
  self.queue[#self.queue + 1] = { fn = fn, done = done }
end

local function finish(self, co, ok, v)
  local t = self.tasks[co]
  self.tasks[co] = nil
  for i, c in ipairs(self.running) do
    if c == co then table.remove(self.running, i); break end
  end
  if t.done then t.done(ok, v) end
end

-- Resumes co and records what it waits for next.
local function step(self, co, ...)
  local r = table.pack(coroutine.resume(co, ...))
  local t = self.tasks[co]
  if coroutine.status(co) == "dead" then
    -- a SIGINT that interrupted the task's own Lua code ends the whole run, as one during a wait does
    if not r[1] and errors.is(r[2], "CANCELLED") then error(r[2], 0) end
    return finish(self, co, r[1], r[2])
  end
  if r[2] == "http" then
    t.reqs, t.opts = r[3], r[4]
  elseif r[2] == "sleep" then
    t.wake = http.now() + (tonumber(r[3]) or 0)
  else
    coroutine.close(co)
    finish(self, co, false, errors.new{ code = "TASK_YIELD",
      message = "a task yielded outside http (coroutine.yield of " .. tostring(r[2]) .. ")" })
  end
end

local function start_queued(self)
  while #self.running < self.n and #self.queue > 0 do
    local q = table.remove(self.queue, 1)
    local co = http.cooperate(coroutine.create(q.fn))
    self.tasks[co] = { done = q.done }
    self.running[#self.running + 1] = co
    self.stats.tasks = self.stats.tasks + 1
    if #self.running > self.stats.max_in_flight then self.stats.max_in_flight = #self.running end
    step(self, co)
  end
end

local function count(self, reqs)
  self.stats.batches = self.stats.batches + 1
  self.stats.requests = self.stats.requests + #reqs
  if #reqs > self.stats.max_batch then self.stats.max_batch = #reqs end
end

-- The tasks waiting for nothing but time: the due ones (to wake now) and the next wake-up time.
local function sleepers(self)
  local due, t_now, next_wake = {}, http.now(), nil
  for _, co in ipairs(self.running) do
    local t = self.tasks[co]
    if t.wake then
      if t.wake <= t_now then due[#due + 1] = co
      else next_wake = math.min(next_wake or t.wake, t.wake) end
    end
  end
  return due, next_wake and next_wake - t_now
end

local function wake(self, due)
  for _, co in ipairs(due) do
    self.tasks[co].wake = nil
    step(self, co)
  end
end

-- One round at the top level: the requests of every task that asked are started at once
-- (http.start) and each task is resumed as soon as its own requests are answered (http.poll).
local function round(self)
  for _, co in ipairs(self.running) do
    local t = self.tasks[co]
    if t.reqs and not t.handle then
      count(self, t.reqs)
      local n = math.min(math.max(#t.reqs, 1), t.opts and tonumber(t.opts.concurrency) or 16)
      t.handle = http.start(t.reqs, { concurrency = n })
      self.handles[t.handle] = co
    end
  end
  local due, wait = sleepers(self)
  if #due > 0 then return wake(self, due) end
  if next(self.handles) == nil then
    if not wait then
      errors.raise("TASK_STALLED", "the task runtime has running tasks but none is waiting for anything")
    end
    return http.sleep(wait)
  end
  for _, h in ipairs(http.poll(self.handles, math.min(wait or 60, 60))) do
    local co = self.handles[h]
    self.handles[h] = nil
    local t = self.tasks[co]
    t.reqs, t.opts, t.handle = nil, nil, nil
    step(self, co, h:results())
  end
end

-- One round of a runtime that itself runs inside a task: the requests of every waiting task go
-- out as one http.all, which yields to the outer runtime; due sleepers wake.
local function nested_round(self)
  local batch, owners = {}, {}
  for _, co in ipairs(self.running) do
    local t = self.tasks[co]
    if t.reqs then
      owners[#owners + 1] = { co = co, from = #batch + 1, count = #t.reqs }
      for _, r in ipairs(t.reqs) do batch[#batch + 1] = r end
    end
  end
  local due, wait = sleepers(self)
  if #owners == 0 then
    if #due > 0 then return wake(self, due) end
    if not wait then
      errors.raise("TASK_STALLED", "the task runtime has running tasks but none is waiting for anything")
    end
    return http.sleep(wait)
  end
  count(self, batch)
  local resps = http.all(batch, { concurrency = math.min(#batch, self.n * 2) })
  for _, o in ipairs(owners) do
    local t = self.tasks[o.co]
    t.reqs, t.opts = nil, nil
    step(self, o.co, table.move(resps, o.from, o.from + o.count - 1, 1, {}))
  end
  wake(self, due)
end

--- rt:run() -> stats {tasks, batches, requests, max_in_flight, max_batch}: runs until every queued task (and
-- every task spawned by a `done`) has ended. Raises CANCELLED (SIGINT) after closing the tasks.
function Runtime:run()
  local one_round = http.in_task() and nested_round or round
  local ok, e = pcall(function()
    while true do
      start_queued(self)
      if #self.running == 0 then break end
      one_round(self)
    end
  end)
  if not ok then
    for h in pairs(self.handles) do h:cancel() end
    for _, co in ipairs(self.running) do coroutine.close(co) end
    self.running, self.tasks, self.queue, self.handles = {}, {}, {}, {}
    error(e, 0)
  end
  return self.stats
end

--- task.map(list, fn, opts) -> results: fn(item, i) for every item as tasks; results[i] is
-- {ok = true, value = v} or {ok = false, error = e}. opts.concurrency as for runtime.
function M.map(list, fn, opts)
  local rt = M.runtime(opts)
  local results = {}
  for i, item in ipairs(list) do
    rt:spawn(function() return fn(item, i) end, function(ok, v)
      results[i] = ok and { ok = true, value = v } or { ok = false, error = v }
    end)
  end
  rt:run()
  return results
end

--- task.walk(g, op, opts) -> walk {status = {node -> "ok"|"failed"|"skipped"}, value =, error =,
-- cause = {node -> the failed node that suppressed it}}. Runs op(node) as a task for every node
-- of the dag g (modules/dag.lua; in opts.subset only, when given) once all its dependencies have
-- succeeded; a failure suppresses everything downstream of it, which is reported as skipped and
-- never run. opts: concurrency, subset, on_done(node, ok, value_or_error), on_skip(node, cause).
function M.walk(g, op, opts)
  opts = opts or {}
  local subset = opts.subset
  local function member(n) return subset == nil or subset[n] == true end
  g:waves(subset) -- raises DEPENDENCY_CYCLE: a node on a cycle would never run
  local w = { status = {}, value = {}, error = {}, cause = {} }
  local waiting = {}
  local rt = M.runtime(opts)
  local spawn
  local function suppress(node)
    local queue = { node }
    while #queue > 0 do
      local n = table.remove(queue, 1)
      for _, r in ipairs(g.rdeps[n]) do
        if member(r) and not w.status[r] then
          w.status[r], w.cause[r] = "skipped", node
          if opts.on_skip then opts.on_skip(r, node) end
          queue[#queue + 1] = r
        end
      end
    end
  end
  spawn = function(node)
    rt:spawn(function() return op(node) end, function(ok, v)
      w.status[node] = ok and "ok" or "failed"
      if ok then w.value[node] = v else w.error[node] = v end
      if opts.on_done then opts.on_done(node, ok, v) end
      if not ok then return suppress(node) end
      for _, r in ipairs(g.rdeps[node]) do
        if member(r) and not w.status[r] then
          waiting[r] = waiting[r] - 1
          if waiting[r] == 0 then spawn(r) end
        end
      end
    end)
  end
  for _, n in ipairs(g.nodes) do
    if member(n) then
      local c = 0
      for _, d in ipairs(g.deps[n]) do if member(d) then c = c + 1 end end
      waiting[n] = c
    end
  end
  for _, n in ipairs(g.nodes) do
    if member(n) and waiting[n] == 0 then spawn(n) end
  end
  w.stats = rt:run()
  return w
end

return M
