-- http module against a real loopback server (spec/support/testserver.py), plain http on 127.0.0.1
-- and TLS with a throwaway CA in child processes (DRHOST_CA_BUNDLE is read once per process).
local http = require("http")
local json = require("json")
local server = require("spec.support.server")

local function raises(code, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error " .. code)
  assert.are.equal("table", type(err), "error should be a table: " .. tostring(err))
  assert.are.equal(code, err.code, tostring(err.message))
  return err
end

describe("http", function()
  local srv

  setup(function()
    srv = server.start()
  end)
  teardown(function()
    srv:stop()
  end)

  local function id()
    return tostring(math.random(1, 1e9))
  end

  describe("request", function()
    it("GETs with lower-cased response headers, attempts, elapsed and url", function()
      local r = http.request{ url = srv:url("/echo?x=1") }
      assert.are.equal(200, r.status)
      assert.are.equal("application/json", r.headers["content-type"])
      assert.is_nil(r.headers["Content-Type"])
      assert.are.equal(1, r.attempts)
      assert.is_true(r.elapsed > 0 and r.elapsed < 5)
      assert.are.equal(srv:url("/echo?x=1"), r.url)
      local e = json.decode(r.body)
      assert.are.equal("GET", e.method)
      assert.are.equal("1", e.query.x)
    end)

    it("POSTs a body with the given headers and no implicit form content type", function()
      local body = '{"a":[1,2,3],"s":"\0binary\255"}'
      local r = http.request{ method = "POST", url = srv:url("/echo"), body = body,
        headers = { ["X-Custom"] = "v1", ["X-Num"] = 42 } }
      local e = json.decode(r.body)
      assert.are.equal("POST", e.method)
      assert.are.equal(#body, tonumber(e.headers["content-length"]))
      assert.are.equal("v1", e.headers["x-custom"])
      assert.are.equal("42", e.headers["x-num"])
      assert.is_nil(e.headers["content-type"])
      assert.is_nil(e.headers["expect"])
    end)

    it("sends Content-Length: 0 for PUT without a body, and other methods as given", function()
      local e = json.decode(http.request{ method = "PUT", url = srv:url("/echo") }.body)
      assert.are.equal("PUT", e.method)
      assert.are.equal("0", e.headers["content-length"])
      e = json.decode(http.request{ method = "POST", url = srv:url("/echo") }.body)
      assert.are.equal("0", e.headers["content-length"])
      assert.is_nil(e.headers["content-type"])
      e = json.decode(http.request{ method = "DELETE", url = srv:url("/echo") }.body)
      assert.are.equal("DELETE", e.method)
      local h = http.request{ method = "HEAD", url = srv:url("/echo") }
      assert.are.equal(200, h.status)
      assert.are.equal("", h.body)
    end)

    it("returns non-2xx statuses instead of raising", function()
      local r = http.request{ url = srv:url("/status/404") }
      assert.are.equal(404, r.status)
      assert.are.equal(404, json.decode(r.body).status)
      r = http.request{ url = srv:url("/status/500"), retries = 0 }
      assert.are.equal(500, r.status)
    end)

    it("joins repeated response headers with ', '", function()
      local r = http.request{ url = srv:url("/multi") }
      assert.are.equal("one, two", r.headers["x-multi"])
    end)
  end)

  describe("retries", function()
    it("honours Retry-After in seconds", function()
      local r = http.request{ url = srv:url("/retry-after/1?k=1&id=" .. id()) }
      assert.are.equal(200, r.status)
      assert.are.equal(2, r.attempts)
      assert.is_true(r.elapsed >= 1.0, "elapsed " .. r.elapsed)
    end)

    it("honours Retry-After as an HTTP date, on 429", function()
      local r = http.request{ url = srv:url("/retry-after/2?form=date&status=429&k=1&id=" .. id()) }
      assert.are.equal(200, r.status)
      assert.are.equal(2, r.attempts)
      -- the date has one-second resolution, so at least one of the two seconds remains
      assert.is_true(r.elapsed >= 1.0, "elapsed " .. r.elapsed)
    end)

    it("gives the response back when Retry-After is beyond max_retry_after", function()
      local r = http.request{ url = srv:url("/retry-after/300?k=1&id=" .. id()), max_retry_after = 10 }
      assert.are.equal(503, r.status)
      assert.are.equal(1, r.attempts)
      assert.are.equal("300", r.headers["retry-after"])
    end)

    it("stops after `retries` and returns the last response", function()
      local r = http.request{ url = srv:url("/flaky?k=10&id=" .. id()), retries = 2, backoff_base = 0.01 }
      assert.are.equal(503, r.status)
      assert.are.equal(3, r.attempts)
    end)

    it("caps the exponential backoff at max_backoff", function()
      local r = http.request{ url = srv:url("/flaky?k=3&status=502&id=" .. id()), backoff_base = 10,
        max_backoff = 0.05 }
      assert.are.equal(200, r.status)
      assert.are.equal(4, r.attempts)
      assert.is_true(r.elapsed < 1.5, "elapsed " .. r.elapsed)
    end)

    it("retries only the configured statuses", function()
      local r = http.request{ url = srv:url("/flaky?k=1&status=500&id=" .. id()), retry_statuses = { 500 },
        backoff_base = 0.01 }
      assert.are.equal(200, r.status)
      assert.are.equal(2, r.attempts)
      r = http.request{ url = srv:url("/flaky?k=1&status=429&id=" .. id()), retry_statuses = { 500 } }
      assert.are.equal(429, r.status)
      assert.are.equal(1, r.attempts)
    end)

    it("retries an answer whose body names one of retry_codes, and no other", function()
      local r = http.request{ url = srv:url("/flaky?k=2&status=409&code=AnotherOperationInProgress&id=" .. id()),
        retry_codes = { "AnotherOperationInProgress" }, backoff_base = 0.01 }
      assert.are.equal(200, r.status)
      assert.are.equal(3, r.attempts)
      r = http.request{ url = srv:url("/flaky?k=1&status=409&code=Conflict&id=" .. id()),
        retry_codes = { "AnotherOperationInProgress" }, backoff_base = 0.01 }
      assert.are.equal(409, r.status)
      assert.are.equal(1, r.attempts)
      r = http.request{ url = srv:url("/flaky?k=1&status=400&code=TEMPORARILY_UNAVAILABLE&id=" .. id()),
        retry_codes = { "TEMPORARILY_UNAVAILABLE" }, backoff_base = 0.01 }
      assert.are.equal(200, r.status)
      raises("INVALID_ARGUMENT", http.request, { url = srv:url("/echo"), retry_codes = { "" } })
    end)

    it("stops retrying once retry_for seconds have passed since the first attempt", function()
      local r = http.request{ url = srv:url("/flaky?k=50&id=" .. id()), retries = 50, backoff_base = 0.1,
        max_backoff = 0.1, retry_for = 0.3 }
      assert.are.equal(503, r.status)
      assert.is_true(r.attempts >= 2 and r.attempts < 50, "attempts " .. r.attempts)
      assert.is_true(r.elapsed < 1.0, "elapsed " .. r.elapsed)
    end)

    it("retries a connection closed without an answer", function()
      http.request{ url = srv:url("/close") } -- a fresh connection, so curl itself cannot resend
      local r = http.request{ url = srv:url("/drop?k=1&id=" .. id()), backoff_base = 0.01 }
      assert.are.equal(200, r.status)
      assert.are.equal(2, r.attempts)
    end)
  end)

  describe("transport errors", function()
    it("raises TIMEOUT when the total timeout passes", function()
      local t0 = server.now()
      local err = raises("TIMEOUT", http.request, { url = srv:url("/slow?ms=3000"), timeout = 0.3 })
      assert.are.equal(1, err.attempts)
      assert.is_true(server.now() - t0 < 2.5)
      assert.matches("/slow", err.message)
    end)

    it("raises CONNECT_ERROR after retrying a refused connection", function()
      local err = raises("CONNECT_ERROR", http.request, {
        url = "http://127.0.0.1:" .. srv.closed_port .. "/", retries = 2, backoff_base = 0.01 })
      assert.are.equal(3, err.attempts)
      assert.matches("attempt 3", err.message)
    end)

    it("refuses plain http to a non-loopback host before any traffic", function()
      local err = raises("INSECURE_URL", http.request, { url = "http://example.com/x" })
      assert.matches("example.com", err.message)
      raises("INSECURE_URL", http.request, { url = "http://127.0.0.1.example.com/" })
      raises("INSECURE_URL", http.request, { url = "http://[::2]/" })
      raises("INVALID_URL", http.request, { url = "ftp://127.0.0.1/" })
      -- loopback names pass the policy (and then fail to connect on a closed port)
      raises("CONNECT_ERROR", http.request, { url = "http://localhost:" .. srv.closed_port .. "/", retries = 0 })
      raises("CONNECT_ERROR", http.request, { url = "http://a.sim.localhost:" .. srv.closed_port .. "/",
        retries = 0 })
    end)

    it("rejects bad requests with specific messages", function()
      local err = raises("INVALID_ARGUMENT", http.request, { url = srv:url("/echo"), tiemout = 3 })
      assert.matches("tiemout", err.message)
      err = raises("INVALID_ARGUMENT", http.request, { url = srv:url("/echo"),
        headers = { ["X-Evil"] = "a\r\nInjected: 1" } })
      assert.matches("X%-Evil", err.message)
      err = raises("INVALID_ARGUMENT", http.request, { url = srv:url("/echo"), headers = { ["Bad Name"] = "v" } })
      assert.matches("Bad Name", err.message)
      err = raises("INVALID_ARGUMENT", http.request, { url = srv:url("/echo"), timeout = -1 })
      assert.matches("timeout", err.message)
      err = raises("INVALID_ARGUMENT", http.request, { url = srv:url("/echo"), method = "get" })
      assert.matches("method", err.message)
      err = raises("INVALID_ARGUMENT", http.request, { url = srv:url("/echo"), body = 5 })
      assert.matches("body", err.message)
      raises("INVALID_ARGUMENT", http.request, { url = 5 })
    end)
  end)

  describe("all", function()
    it("returns responses in request order", function()
      local reqs = {}
      for i = 1, 20 do
        reqs[i] = { url = srv:url("/slow?ms=" .. ((20 - i) * 5) .. "&i=" .. i) }
      end
      local rs = http.all(reqs, { concurrency = 8 })
      assert.are.equal(20, #rs)
      for i = 1, 20 do
        assert.are.equal(200, rs[i].status)
        assert.are.equal(srv:url("/slow?ms=" .. ((20 - i) * 5) .. "&i=" .. i), rs[i].url)
      end
    end)

    it("sends each request its own headers when neighbours share theirs", function()
      local tok = "Bearer " .. string.rep("t", 900)
      local hs = { { Authorization = tok, Accept = "a" }, { Authorization = tok, Accept = "a" },
        { Authorization = tok, Accept = "b" }, { Authorization = tok, Accept = "b" }, {}, { Accept = "a" },
        { Authorization = tok, Accept = "a", ["X-Extra"] = "1" }, { Authorization = tok, Accept = "a" } }
      local reqs = {}
      for i, h in ipairs(hs) do reqs[i] = { url = srv:url("/echo?i=" .. i), headers = h } end
      for _, rs in ipairs({ http.all(reqs, { concurrency = 3 }), http.all(reqs, { concurrency = 1 }) }) do
        for i, h in ipairs(hs) do
          local e = json.decode(rs[i].body).headers
          assert.are.equal(h.Authorization, e.authorization, "request " .. i)
          assert.are.equal(h.Accept or "*/*", e.accept, "request " .. i)
          assert.are.equal(h["X-Extra"], e["x-extra"], "request " .. i)
        end
      end
    end)

    it("keeps at most `concurrency` requests in flight", function()
      http.request{ url = srv:url("/reset") }
      local reqs = {}
      for i = 1, 12 do reqs[i] = { url = srv:url("/slow?ms=150") } end
      local t0 = server.now()
      local rs = http.all(reqs, { concurrency = 3 })
      local took = server.now() - t0
      for i = 1, 12 do assert.are.equal(200, rs[i].status) end
      local c = json.decode(http.request{ url = srv:url("/count") }.body)
      assert.are.equal(3, c.max_concurrent)
      assert.is_true(took >= 0.55, "12 x 150 ms with 3 in flight took " .. took)
    end)

    it("reports transport failures per request", function()
      local rs = http.all({
        { url = srv:url("/echo") },
        { url = "http://127.0.0.1:" .. srv.closed_port .. "/", retries = 0 },
        { url = srv:url("/status/418") },
      })
      assert.are.equal(200, rs[1].status)
      assert.are.equal("CONNECT_ERROR", rs[2].error.code)
      assert.are.equal(418, rs[3].status)
    end)

    it("does not block other transfers while a retry waits", function()
      local t0 = server.now()
      local reqs = { { url = srv:url("/retry-after/1?k=1&id=" .. id()) } }
      for i = 2, 6 do reqs[i] = { url = srv:url("/slow?ms=100") } end
      local rs = http.all(reqs, { concurrency = 2 })
      local took = server.now() - t0
      assert.are.equal(2, rs[1].attempts)
      assert.is_true(rs[1].elapsed >= 1.0)
      for i = 2, 6 do
        assert.are.equal(200, rs[i].status)
        assert.is_true(rs[i].elapsed < 0.9, "request " .. i .. " waited " .. rs[i].elapsed)
      end
      assert.is_true(took < 1.6, "took " .. took)
    end)

    it("validates every request before sending any", function()
      http.request{ url = srv:url("/reset") }
      local err = raises("INSECURE_URL", http.all, { { url = srv:url("/echo") }, { url = "http://example.org/" } })
      assert.matches("request 2", err.message)
      local c = json.decode(http.request{ url = srv:url("/count") }.body)
      assert.are.equal(1, c.requests) -- only the /count itself
    end)

    it("handles an empty list", function()
      assert.are.same({}, http.all({}))
    end)

    it("starts the next request as soon as a slot frees (no idle wait between transfers)", function()
      local reqs = {}
      for i = 1, 40 do reqs[i] = { url = srv:url("/echo") } end
      local t0 = server.now()
      local rs = http.all(reqs, { concurrency = 1 })
      local took = server.now() - t0
      assert.are.equal(40, #rs)
      -- an idle 50 ms poll per transfer would take 2 s
      assert.is_true(took < 1.0, "40 sequential transfers took " .. took)
    end)
  end)

  describe("start and poll", function()
    it("returns each started set as soon as it has finished, with http.all's responses", function()
      local slow = http.start({ { url = srv:url("/slow?ms=600") } })
      local fast = http.start({ { url = srv:url("/echo?x=1") }, { url = "http://127.0.0.1:" .. srv.closed_port .. "/", retries = 0 } })
      local t0 = http.now()
      local done = http.poll({ [slow] = true, [fast] = true }, 5)
      assert.are.equal(1, #done)
      assert.are.equal(fast, done[1])
      assert.is_true(http.now() - t0 < 0.5, "waited for the slow set")
      local rs = fast:results()
      assert.are.equal("1", json.decode(rs[1].body).query.x)
      assert.are.equal("CONNECT_ERROR", rs[2].error.code)
      raises("INVALID_ARGUMENT", slow.results, slow)
      assert.are.same({}, http.poll({ [slow] = true }, 0))
      -- a set finished but not asked for stays for its own caller
      local other = http.start({ { url = srv:url("/echo") } })
      assert.are.same({}, http.poll({ [slow] = true }, 0.1))
      assert.are.equal(other, http.poll({ [other] = true }, 5)[1])
      done = http.poll({ [slow] = true }, 5)
      assert.are.equal(slow, done[1])
      assert.are.equal(200, slow:results()[1].status)
    end)

    it("gives each response the URL that was sent, even when the caller changed its request since", function()
      local reqs = { { url = srv:url("/echo?a=1") }, { url = srv:url("/echo?b=2") } }
      local h = http.start(reqs)
      reqs[1].url = srv:url("/other")
      reqs[2] = nil
      assert.are.equal(h, http.poll({ [h] = true }, 5)[1])
      local rs = h:results()
      assert.are.equal(srv:url("/echo?a=1"), rs[1].url)
      assert.are.equal(srv:url("/echo?b=2"), rs[2].url)
      assert.are.equal("2", json.decode(rs[2].body).query.b)
    end)

    it("cancels a started set, validates before starting, and times out empty", function()
      local h = http.start({ { url = srv:url("/slow?ms=3000") } })
      h:cancel()
      assert.are.equal("CANCELLED", h:results()[1].error.code)
      raises("INVALID_URL", http.start, { { url = "ftp://x/" } })
      local t0 = http.now()
      assert.are.same({}, http.poll({}, 0.2))
      assert.is_true(http.now() - t0 >= 0.19)
    end)
  end)

  -- Runs `code` in a child drhost, sends it SIGINT after `delay` seconds; returns its stdout
  -- (ending with rc=N), its stderr and the seconds it took.
  local function interrupted(code, delay)
    local err = os.tmpname()
    local t0 = server.now()
    local cmd = string.format("%s -e %s 2>%s & pid=$!; sleep %s; kill -INT $pid; wait $pid; echo rc=$?",
      server.shell_quote(server.drhost()), server.shell_quote(code), server.shell_quote(err), delay)
    local p = io.popen(cmd)
    local out = p:read("a")
    p:close()
    local f = io.open(err)
    local stderr = f:read("a")
    f:close()
    os.remove(err)
    return out, stderr, server.now() - t0
  end

  describe("SIGINT", function()
    it("aborts the transfers of a child drhost with CANCELLED", function()
      local code = string.format([[require("http").all({ { url = %q }, { url = %q } })]],
        srv:url("/slow?ms=8000"), srv:url("/slow?ms=8000"))
      local out, stderr, took = interrupted(code, 0.7)
      assert.is_true(took < 5, "the child did not stop promptly")
      assert.matches("CANCELLED", stderr)
      assert.not_matches("rc=0", out)
    end)
  end)

  describe("clock and sleep", function()
    it("now() only moves forward and sleep() waits at least the time asked", function()
      local t0 = http.now()
      http.sleep(0.15)
      local t1 = http.now()
      assert.is_true(t1 - t0 >= 0.15, "slept " .. (t1 - t0))
      assert.is_true(t1 - t0 < 2, "slept far too long: " .. (t1 - t0))
    end)

    it("refuses a negative or huge sleep with INVALID_ARGUMENT", function()
      raises("INVALID_ARGUMENT", http.sleep, -1)
      raises("INVALID_ARGUMENT", http.sleep, 1e9)
    end)

    it("a SIGINT ends a long sleep of a child drhost promptly with CANCELLED", function()
      local out, stderr, took = interrupted([[require("http").sleep(30)]], 0.5)
      assert.is_true(took < 5, "the child did not stop promptly")
      assert.matches("CANCELLED", stderr)
      assert.matches("rc=130", out)
    end)
  end)

  describe("connection reuse", function()
    it("serves many requests over few connections", function()
      http.request{ url = srv:url("/reset") }
      for _ = 1, 30 do http.request{ url = srv:url("/echo") } end
      local reqs = {}
      for i = 1, 40 do reqs[i] = { url = srv:url("/echo") } end
      http.all(reqs, { concurrency = 4 })
      local c = json.decode(http.request{ url = srv:url("/count") }.body)
      assert.are.equal(71, c.requests)
      assert.is_true(c.connections <= 5, c.connections .. " connections for 71 requests")
    end)

    it("opens a new connection after the server closes one", function()
      http.request{ url = srv:url("/close") }
      assert.are.equal(200, http.request{ url = srv:url("/echo") }.status)
    end)
  end)
end)

describe("http over TLS (child processes)", function()
  local srv
  setup(function()
    srv = server.start{ tls = true }
  end)
  teardown(function()
    srv:stop()
  end)

  local probe = [[
    local http = require("http")
    local ok, r = pcall(http.request, { url = URL, retries = 0 })
    if ok then print("STATUS " .. r.status) else print("ERROR " .. tostring(r.code)) end
  ]]

  it("trusts the extra CA from DRHOST_CA_BUNDLE", function()
    local ok, out = server.run_child(probe:gsub("URL", string.format("%q", srv:url("/echo"))),
      { DRHOST_CA_BUNDLE = srv.ca })
    assert.is_true(ok)
    assert.matches("STATUS 200", out)
    ok, out = server.run_child(probe:gsub("URL", string.format("%q", "https://localhost:" .. srv.port .. "/echo")),
      { DRHOST_CA_BUNDLE = srv.ca })
    assert.is_true(ok)
    assert.matches("STATUS 200", out)
  end)

  it("refuses the server without the CA (TLS_ERROR)", function()
    local ok, out = server.run_child(probe:gsub("URL", string.format("%q", srv:url("/echo"))),
      { DRHOST_CA_BUNDLE = "" })
    assert.is_true(ok)
    assert.matches("ERROR TLS_ERROR", out)
  end)

  it("verifies the host name even with the CA", function()
    local ok, out = server.run_child(probe:gsub("URL", string.format("%q", "https://127.0.0.2:" .. srv.port .. "/echo")),
      { DRHOST_CA_BUNDLE = srv.ca })
    assert.is_true(ok)
    -- 127.0.0.2 is not in the certificate (or not listening): never a success
    assert.not_matches("STATUS", out)
  end)

  it("negotiates HTTP/2 by ALPN and multiplexes concurrent requests over one connection", function()
    local h2 = server.start_h2(srv)
    local code = string.format([[
      local http = require("http")
      local reqs = {}
      for i = 1, 8 do reqs[i] = { url = %q .. i } end
      for _, r in ipairs(http.all(reqs, { concurrency = 8 })) do
        print(r.status, r.headers["x-dup"], r.body)
      end
    ]], h2:url("/h2?ms=100&i="))
    local ok, out, err = server.run_child(code, { DRHOST_CA_BUNDLE = srv.ca })
    h2:stop()
    assert.is_true(ok, err)
    local n = 0
    for status, dup, body in out:gmatch("(%d+)\t([^\t]*)\t([^\n]*)") do
      n = n + 1
      assert.are.equal("200", status)
      assert.are.equal("a, b", dup)
      assert.matches('"version":"2"', body)
      assert.matches('"sessions":1,', body, 1, true) -- one TLS connection for all eight streams
    end
    assert.are.equal(8, n)
  end)

  it("reports an unreadable DRHOST_CA_BUNDLE as CONFIG_ERROR", function()
    local ok, out = server.run_child(probe:gsub("URL", string.format("%q", srv:url("/echo"))),
      { DRHOST_CA_BUNDLE = "/nonexistent/ca.pem" })
    assert.is_true(ok)
    assert.matches("ERROR CONFIG_ERROR", out)
  end)

  it("redacts secrets in debug logs", function()
    local code = string.format([[
      local http = require("http")
      local r = http.request{ method = "POST", url = %q,
        headers = { Authorization = "Bearer SECRET_A", ["Content-Type"] = "application/x-www-form-urlencoded",
                    ["X-Api-Key"] = "SECRET_F" },
        body = "grant_type=client_credentials&client_secret=SECRET_D&client_assertion=SECRET_E&scope=visible2" }
      print("STATUS " .. r.status)
    ]], srv:url("/echo?sig=SECRET_B&code=SECRET_C&keep=visible1"))
    local ok, out, err = server.run_child(code, { DRHOST_CA_BUNDLE = srv.ca, DRHOST_LOG = "debug" })
    assert.is_true(ok, err)
    assert.matches("STATUS 200", out)
    assert.matches("http request", err)
    assert.matches("visible1", err)
    assert.matches("status=200", err)
    assert.not_matches("SECRET_", err)
  end)
end)
