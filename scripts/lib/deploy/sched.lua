-- A small cooperative scheduler: runs tasks as coroutines and turns their HTTP calls into shared
-- batches. While a pool runs, `http.request` and `http.all` (and `http.sleep` / `auth.util.sleep`,
-- used by the cloud modules while waiting for long-running operations) are wrapped: a call from one of the
-- pool's coroutines yields to the scheduler, which gathers the requests of every runnable task
-- into one `http.all` call (so many resources are read, created and polled at the same time) and
-- resumes each task with its own responses. Calls from outside the pool go straight through.
-- With concurrency = 1 the same code runs strictly one task at a time (the serial baseline).
local M = {}

local YIELD_HTTP = {}
local YIELD_SLEEP = {}

local Pool = {}
Pool.__index = Pool

local function now()
  local okh, http = pcall(require, "http")
  if okh and type(http) == "table" and type(http.now) == "function" then return http.now() end
  local ok, auth = pcall(require, "auth")
  if ok and type(auth) == "table" and auth.util and auth.util.now then return auth.util.now() end
  return os.time()
end

--- pool{concurrency = N, http = module (default require "http")}
function M.pool(opts)
  opts = opts or {}
  return setmetatable({
    n = math.max(1, opts.concurrency or 8),
    http = opts.http,
    queue = {}, running = {}, mine = {},
    stats = { tasks = 0, batches = 0, requests = 0, max_in_flight = 0 },
  }, Pool)
end

--- pool:spawn(fn, done): queue fn(); done(ok, result_or_error) runs when it finishes (and may
-- spawn more tasks).
function Pool:spawn(fn, done)
  self.queue[#self.queue + 1] = { fn = fn, done = done }
end

local function install(self)
  local http = self.http
  if http == nil then
    local ok, h = pcall(require, "http")
    http = ok and type(h) == "table" and h or nil
  end
  local restore = {}
  if http then
    local orig_all, orig_request = http.all, http.request
    self.orig_all = orig_all
    if orig_all then
      http.all = function(reqs, o)
        local co = coroutine.running()
        if not self.mine[co] then return orig_all(reqs, o) end
        return coroutine.yield(YIELD_HTTP, reqs)
      end
    end
    if orig_request then
      http.request = function(req)
        local co = coroutine.running()
        if not self.mine[co] or not orig_all then return orig_request(req) end
        local resps = coroutine.yield(YIELD_HTTP, { req })
        local r = resps[1]
        if r and r.error then error(r.error, 0) end
        return r
      end
    end
    restore[#restore + 1] = function() http.all, http.request = orig_all, orig_request end
    if type(http.sleep) == "function" then
      local orig_hsleep = http.sleep
      self.orig_sleep = self.orig_sleep or orig_hsleep
      http.sleep = function(s)
        local co = coroutine.running()
        if not self.mine[co] then return orig_hsleep(s) end
        return coroutine.yield(YIELD_SLEEP, s)
      end
      restore[#restore + 1] = function() http.sleep = orig_hsleep end
    end
  end
  local ok_auth, auth = pcall(require, "auth")
  if ok_auth and type(auth) == "table" and type(auth.util) == "table" and auth.util.sleep then
    local orig_sleep = auth.util.sleep
    self.orig_sleep = orig_sleep
    auth.util.sleep = function(s)
      local co = coroutine.running()
      if not self.mine[co] then return orig_sleep(s) end
      return coroutine.yield(YIELD_SLEEP, s)
    end
    restore[#restore + 1] = function() auth.util.sleep = orig_sleep end
  end
  return restore
end

local function sleep(self, s)
  if s <= 0 then return end
  if self.orig_sleep then return self.orig_sleep(s) end
  local t = os.clock() + s
  while os.clock() < t do end -- luacheck: ignore
end

--- pool:run(): run until every queued task (and those spawned by `done`) has finished.
function Pool:run()
  local restore = install(self)
  local ok, e = pcall(function()
    local waiting = {}   -- co -> {reqs = ...} or {wake = t}
    local tasks = {}     -- co -> task
    local function finish(co, success, result)
      self.mine[co] = nil
      waiting[co] = nil
      local t = tasks[co]
      tasks[co] = nil
      for i, c in ipairs(self.running) do
        if c == co then table.remove(self.running, i); break end
      end
      if t.done then t.done(success, result) end
    end
    local function step(co, ...)
      local res = table.pack(coroutine.resume(co, ...))
      if coroutine.status(co) == "dead" then
        finish(co, res[1], res[2])
      elseif res[2] == YIELD_HTTP then
        waiting[co] = { reqs = res[3] }
      elseif res[2] == YIELD_SLEEP then
        waiting[co] = { wake = now() + (tonumber(res[3]) or 0) }
      else
        finish(co, false, "task yielded outside the scheduler")
      end
    end
    while true do
      while #self.running < self.n and #self.queue > 0 do
        local t = table.remove(self.queue, 1)
        local co = coroutine.create(t.fn)
        tasks[co] = t
        self.mine[co] = true
        self.running[#self.running + 1] = co
        self.stats.tasks = self.stats.tasks + 1
        if #self.running > self.stats.max_in_flight then self.stats.max_in_flight = #self.running end
        step(co)
      end
      if #self.running == 0 and #self.queue == 0 then break end
      -- gather HTTP batches
      local batch, owners = {}, {}
      local t_now, next_wake = now(), nil
      for _, co in ipairs(self.running) do
        local w = waiting[co]
        if w and w.reqs then
          owners[#owners + 1] = { co = co, from = #batch + 1, count = #w.reqs }
          for _, r in ipairs(w.reqs) do batch[#batch + 1] = r end
        elseif w and w.wake then
          if w.wake <= t_now then owners[#owners + 1] = { co = co, wake = true }
          else next_wake = math.min(next_wake or w.wake, w.wake) end
        end
      end
      if #owners == 0 then
        if next_wake then sleep(self, next_wake - t_now)
        elseif #self.queue == 0 then error("scheduler stalled: no runnable task", 0) end
      else
        local resps = {}
        if #batch > 0 then
          self.stats.batches = self.stats.batches + 1
          self.stats.requests = self.stats.requests + #batch
          resps = self.orig_all(batch, { concurrency = math.min(#batch, self.n * 2) })
        end
        for _, o in ipairs(owners) do
          waiting[o.co] = nil
          if o.wake then
            step(o.co)
          else
            local mine = {}
            for i = 1, o.count do mine[i] = resps[o.from + i - 1] end
            step(o.co, mine)
          end
        end
      end
    end
  end)
  for _, f in ipairs(restore) do f() end
  if not ok then error(e, 0) end
  return self.stats
end

--- map(list, fn, opts): run fn(item, i) for every item through a pool; returns results where
-- results[i] = {ok = true, value = v} or {ok = false, error = e}.
function M.map(list, fn, opts)
  local pool = M.pool(opts)
  local results = {}
  for i, item in ipairs(list) do
    pool:spawn(function() return fn(item, i) end, function(ok, v)
      results[i] = ok and { ok = true, value = v } or { ok = false, error = v }
    end)
  end
  pool:run()
  return results
end

return M
