-- The task runtime (modules/task.lua) and dependency graphs (modules/dag.lua): HTTP and sleeps of
-- tasks multiplexed on the one multi handle, the concurrency bound, the dependency walk (failures
-- suppress what is downstream), nesting, SIGINT. Against the loopback test server.
local http = require("http")
local json = require("json")
local task = require("task")
local dag = require("dag")
local server = require("spec.support.server")

describe("task runtime", function()
  local srv
  setup(function() srv = server.start() end)
  teardown(function() srv:stop() end)

  it("runs the HTTP calls of concurrent tasks at the same time, within the bound", function()
    http.request{ url = srv:url("/reset") }
    local rt = task.runtime{ concurrency = 3 }
    local got = {}
    for i = 1, 7 do
      rt:spawn(function()
        local a = http.request{ url = srv:url("/echo?v=u" .. i) }
        local b = http.all({ { url = srv:url("/slow?ms=150") }, { url = srv:url("/echo?v=w" .. i) } })
        return json.decode(a.body).query.v .. b[1].status .. json.decode(b[2].body).query.v
      end, function(ok, v) assert.is_true(ok, tostring(v)); got[i] = v end)
    end
    local t0 = http.now()
    local stats = rt:run()
    local took = http.now() - t0
    assert.equal("u3200w3", got[3])
    assert.equal(7, #got)
    assert.equal(3, stats.max_in_flight)
    assert.equal(21, stats.requests)
    local seen = json.decode(http.request{ url = srv:url("/count") }.body)
    assert.is_true(seen.max_concurrent >= 3 and seen.max_concurrent <= 6, "in flight at once: " .. seen.max_concurrent)
    -- three rounds of 150 ms at most, not seven
    assert.is_true(took < 0.9, "7 tasks with concurrency 3 took " .. took)
    -- outside a task the same calls block as usual
    assert.equal(200, http.request{ url = srv:url("/echo") }.status)
  end)

  it("resumes each task as soon as its own requests are answered (a slow one holds nobody back)", function()
    local fast_done
    local t0 = http.now()
    task.map({ "slow", "fast" }, function(kind)
      if kind == "slow" then return http.request{ url = srv:url("/slow?ms=800") } end
      for _ = 1, 5 do http.request{ url = srv:url("/echo") } end
      fast_done = http.now() - t0
    end)
    assert.is_true(fast_done < 0.5, "five quick calls waited for the slow one: " .. fast_done)
  end)

  it("raises a transport error inside the task that made the call, and validates in the task", function()
    local res = task.map({ "http://127.0.0.1:" .. srv.closed_port .. "/", "ftp://x/" }, function(url)
      return http.request{ url = url, retries = 0 }
    end)
    assert.is_false(res[1].ok)
    assert.equal("CONNECT_ERROR", res[1].error.code)
    assert.equal("INVALID_URL", res[2].error.code)
  end)

  it("reports task errors without stopping the other tasks", function()
    local res = task.map({ 1, 2, 3 }, function(x) if x == 2 then error("bad") end; return x end)
    assert.is_true(res[1].ok)
    assert.is_false(res[2].ok)
    assert.matches("bad", res[2].error)
    assert.equal(3, res[3].value)
  end)

  it("lets sleeping tasks wait together; concurrency 1 runs them one after the other", function()
    local function run(n)
      local t0 = http.now()
      task.map({ 1, 2, 3, 4 }, function() http.sleep(0.2) end, { concurrency = n })
      return http.now() - t0
    end
    local par, ser = run(4), run(1)
    assert.is_true(par < 0.6, "4 sleeps of 0.2 s in parallel took " .. par)
    assert.is_true(ser >= 0.8, "4 sleeps of 0.2 s in series took " .. ser)
  end)

  it("runs a runtime inside a task on the outer one", function()
    local res = task.map({ 1, 2 }, function(i)
      local inner = task.map({ "a", "b" }, function(x)
        return json.decode(http.request{ url = srv:url("/echo?v=" .. x .. i) }.body).query.v
      end)
      return inner[1].value .. inner[2].value
    end)
    assert.equal("a1b1", res[1].value)
    assert.equal("a2b2", res[2].value)
  end)

  it("runs a runtime started from another's callback without taking the other's answers", function()
    local rt = task.runtime{ concurrency = 4 }
    local got, inner = {}, nil
    for i = 1, 3 do
      rt:spawn(function()
        return http.request{ url = srv:url(i == 1 and "/echo?v=a" or "/slow?ms=300") }.status
      end, function(ok, v)
        got[i] = ok and v
        if i == 1 then   -- while the slow ones are in flight
          inner = task.map({ "x", "y" }, function(x)   -- answered after the outer ones
            http.request{ url = srv:url("/slow?ms=600") }
            return json.decode(http.request{ url = srv:url("/echo?v=" .. x) }.body).query.v
          end)
        end
      end)
    end
    rt:run()
    assert.same({ 200, 200, 200 }, got)
    assert.equal("x", inner[1].value)
    assert.equal("y", inner[2].value)
  end)

  it("refuses a task that yields something other than an HTTP call or a sleep", function()
    local res = task.map({ 1 }, function() coroutine.yield("x") end)
    assert.equal("TASK_YIELD", res[1].error.code)
  end)

  it("ends a walk with CANCELLED on SIGINT, in a wait that yields and in one that blocks", function()
    -- a sort comparator cannot yield: the sleep inside it blocks and raises CANCELLED in the task
    for _, body in ipairs({ "http.sleep(30)", "table.sort({ 1, 2 }, function() http.sleep(30); return false end)" }) do
      local code = [[
        local task, dag, http = require("task"), require("dag"), require("http")
        local g = dag.new({ 1, 2, 3 }, function(n) return n == 3 and { 1 } or {} end)
        local ran = 0
        local ok, e = pcall(task.walk, g, function() ran = ran + 1; ]] .. body .. [[ end)
        print(ok, e.code, ran)]]
      local cmd = string.format("%s -e %s 2>&1 & pid=$!; sleep 0.5; kill -INT $pid; wait $pid; echo rc=$?",
        server.shell_quote(server.drhost()), server.shell_quote(code))
      local t0 = http.now()
      local p = io.popen(cmd)
      local out = p:read("a")
      p:close()
      assert.is_true(http.now() - t0 < 5, "the walk did not stop promptly: " .. body)
      -- the pcall cannot swallow the cancellation: the host ends the run with 130
      assert.matches("CANCELLED", out)
      assert.is_nil(out:find("false\t", 1, true))
      assert.matches("rc=130", out)
    end
  end)
end)

describe("task.walk", function()
  local function graph(edges, nodes)
    return dag.new(nodes, function(n) return edges[n] end)
  end

  it("runs every node after its dependencies; a failure skips what is downstream only", function()
    -- b needs a, c needs b, d is independent, e needs d
    local g = graph({ b = { "a" }, c = { "b" }, e = { "d" } }, { "a", "b", "c", "d", "e" })
    local seen, skipped = {}, {}
    local w = task.walk(g, function(n)
      seen[#seen + 1] = n
      if n == "b" then error({ code = "BOOM", message = "no" }) end
      return n:upper()
    end, { concurrency = 2, on_skip = function(n, cause) skipped[n] = cause end })
    assert.same({ a = "ok", b = "failed", c = "skipped", d = "ok", e = "ok" }, w.status)
    assert.equal("b", skipped.c)
    assert.equal("BOOM", w.error.b.code)
    assert.equal("E", w.value.e)
    local pos = {}
    for i, n in ipairs(seen) do pos[n] = i end
    assert.is_nil(pos.c)
    assert.is_true(pos.a < pos.b and pos.d < pos.e)
  end)

  it("walks only a subset, and refuses a cycle before running anything", function()
    local g = graph({ b = { "a" } }, { "a", "b", "c" })
    local w = task.walk(g, function(n) return n end, { subset = { b = true, c = true } })
    assert.same({ b = "ok", c = "ok" }, w.status)
    local cyc = graph({ a = { "b" }, b = { "a" } }, { "a", "b" })
    local ran = false
    local ok, e = pcall(task.walk, cyc, function() ran = true end)
    assert.is_false(ok)
    assert.equal("DEPENDENCY_CYCLE", e.code)
    assert.matches("a %-> b %-> a", e.message)
    assert.is_false(ran)
  end)
end)
