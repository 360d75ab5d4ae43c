-- The build on a fresh machine: `make demo` (and test, bench) must run setup before anything asks
-- pkg-config for the build's flags, since setup is what installs the packages pkg-config reports on.
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function sh(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"@rc=$?\""))
  local out = p:read("a")
  p:close()
  local body, rc = out:match("^(.-)@rc=(%d+)%s*$")
  return body, tonumber(rc)
end

local function write(path, data, mode)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  if mode then os.execute("chmod " .. mode .. " " .. q(path)) end
end

describe("make on a machine without the packages", function()
  local dir
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. q(dir)))
  end)
  teardown(function() os.execute("rm -rf " .. q(dir)) end)

  it("runs setup before the build reads pkg-config, so the first `make demo` builds", function()
    -- pkg-config answers only after the stand-in setup has "installed" the packages (a marker).
    local marker = dir .. "/installed"
    write(dir .. "/pkg-config", "#!/bin/sh\n[ -e " .. q(marker) .. " ] || exit 1\nexec pkg-config \"$@\"\n", "+x")
    write(dir .. "/setup", "#!/bin/sh\ntouch " .. q(marker) .. "\n", "+x")
    write(dir .. "/demo", "#!/bin/sh\n[ -x " .. q(dir .. "/build/drhost") .. " ] && echo demo-ran\n", "+x")
    local out, rc = sh(table.concat({
      "make --no-print-directory -s demo",
      "PKG_CONFIG=" .. q(dir .. "/pkg-config"),
      "SETUP=" .. q(dir .. "/setup"),
      "DEMO_SCRIPT=" .. q(dir .. "/demo"),
      "BUILD=" .. q(dir .. "/build"),
      "HOST_CFLAGS='-std=c11 -O0'",
    }, " "))
    assert.are.equal(0, rc, out)
    assert.matches("demo%-ran", out)
  end)
end)
