-- crypto module: known vectors (FIPS 180-2, RFC 4231, RFC 4648) and RS256 checked by openssl
local crypto = require("crypto")

local function hex(s) return crypto.hex(s) end

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

local function write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

describe("crypto hashes", function()
  it("sha256 gives the FIPS 180-2 digests", function()
    assert.are.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", crypto.sha256("abc"))
    assert.are.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", crypto.sha256(""))
    assert.are.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
      crypto.sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
  end)

  it("sha256_raw is the 32 raw bytes of the same digest", function()
    local raw = crypto.sha256_raw("abc")
    assert.are.equal(32, #raw)
    assert.are.equal(crypto.sha256("abc"), hex(raw))
  end)

  it("hmac_sha256 matches RFC 4231 test cases 1, 2 and 6", function()
    assert.are.equal("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
      hex(crypto.hmac_sha256(string.rep("\11", 20), "Hi There")))
    assert.are.equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
      hex(crypto.hmac_sha256("Jefe", "what do ya want for nothing?")))
    assert.are.equal("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
      hex(crypto.hmac_sha256(string.rep("\170", 131), "Test Using Larger Than Block-Size Key - Hash Key First")))
  end)

  it("compares in constant time", function()
    assert.is_true(crypto.constant_time_equal("abc", "abc"))
    assert.is_false(crypto.constant_time_equal("abc", "abd"))
    assert.is_false(crypto.constant_time_equal("abc", "ab"))
  end)
end)

describe("crypto base64", function()
  local vectors = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
    { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" } }
  for _, v in ipairs(vectors) do
    it(("encodes and decodes the RFC 4648 vector %q"):format(v[1]), function()
      assert.are.equal(v[2], crypto.base64_encode(v[1]))
      assert.are.equal(v[1], crypto.base64_decode(v[2]))
      assert.are.equal((v[2]:gsub("=", "")), crypto.base64url_encode(v[1]))
      assert.are.equal(v[1], crypto.base64url_decode((v[2]:gsub("=", ""))))
    end)
  end

  it("uses the URL alphabet for base64url", function()
    assert.are.equal("+/8=", crypto.base64_encode("\251\255"))
    assert.are.equal("-_8", crypto.base64url_encode("\251\255"))
    assert.are.equal("\251\255", crypto.base64url_decode("-_8"))
    assert.are.equal("\251\255", crypto.base64url_decode("-_8="))
  end)

  it("round-trips every byte value", function()
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    local s = table.concat(all)
    assert.are.equal(s, crypto.base64_decode(crypto.base64_encode(s)))
    assert.are.equal(s, crypto.base64url_decode(crypto.base64url_encode(s)))
  end)

  local bad = {
    { crypto.base64_decode, "Zm9!", "outside the alphabet" },
    { crypto.base64_decode, "Zm9", "multiple of 4" },
    { crypto.base64_decode, "Zm=v", "padding in the middle" },
    { crypto.base64_decode, "Zh==", "trailing bits" },
    { crypto.base64_decode, "Zm9v\n", "" },
    { crypto.base64_decode, "-_8=", "outside the alphabet" },
    { crypto.base64url_decode, "+/8", "outside the alphabet" },
    { crypto.base64url_decode, "Z", "dangling" },
    { crypto.base64url_decode, "Zg=", "multiple of 4" },
  }
  for _, b in ipairs(bad) do
    it(("rejects %q with a BAD_INPUT error"):format(b[2]), function()
      local ok, err = pcall(b[1], b[2])
      assert.is_false(ok)
      assert.are.equal("BAD_INPUT", err.code)
      assert.matches("offset %d+", err.message)
      assert.matches(b[3], err.message, 1, true)
      assert.are.equal("number", type(err.offset))
    end)
  end
end)

describe("crypto random", function()
  it("returns the requested number of bytes, different each time", function()
    local a, b = crypto.random_bytes(32), crypto.random_bytes(32)
    assert.are.equal(32, #a)
    assert.are_not.equal(a, b)
    assert.are.equal("", crypto.random_bytes(0))
    assert.has_error(function() crypto.random_bytes(-1) end)
  end)

  it("makes version 4 UUIDs", function()
    local seen = {}
    for _ = 1, 50 do
      local u = crypto.uuid4()
      assert.matches("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$", u)
      assert.is_nil(seen[u])
      seen[u] = true
    end
  end)
end)

describe("crypto with keys and certificates (checked by the openssl CLI)", function()
  local dir, key, cert
  setup(function()
    dir = tmpdir()
    local out, code = sh(("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem -out %s/cert.pem " ..
      "-days 1 -subj /CN=drhost-test"):format(dir, dir))
    assert(code == 0, out)
    key, cert = read(dir .. "/key.pem"), read(dir .. "/cert.pem")
    assert(sh(("openssl pkey -in %s/key.pem -pubout -out %s/pub.pem"):format(dir, dir)))
  end)
  teardown(function() os.execute("rm -rf " .. dir) end)

  it("signs an RS256 JWT that openssl verifies", function()
    local jwt = crypto.jwt_rs256({ x5t = "abc" }, { aud = "https://login.sim.localhost/t", iss = "client", n = 1 }, key)
    local h, c, s = jwt:match("^([%w_-]+)%.([%w_-]+)%.([%w_-]+)$")
    assert.is_not_nil(h)
    local json = require("json")
    local header = json.decode(crypto.base64url_decode(h))
    assert.are.same({ alg = "RS256", typ = "JWT", x5t = "abc" }, header)
    assert.are.equal("client", json.decode(crypto.base64url_decode(c)).iss)
    write(dir .. "/input", h .. "." .. c)
    write(dir .. "/sig", crypto.base64url_decode(s))
    local out, code = sh(("openssl dgst -sha256 -verify %s/pub.pem -signature %s/sig %s/input"):format(dir, dir, dir))
    assert.are.equal(0, code)
    assert.matches("Verified OK", out)
    -- a tampered input must not verify
    write(dir .. "/input", h .. "." .. c .. "x")
    local _, code2 = sh(("openssl dgst -sha256 -verify %s/pub.pem -signature %s/sig %s/input"):format(dir, dir, dir))
    assert.are_not.equal(0, code2)
  end)

  it("finds the key in a PEM holding the certificate too", function()
    local jwt = crypto.jwt_rs256({}, { a = 1 }, cert .. key)
    assert.matches("^[%w_-]+%.[%w_-]+%.[%w_-]+$", jwt)
  end)

  it("rejects bad keys and arguments with specific errors", function()
    local ok, err = pcall(crypto.jwt_rs256, {}, {}, "not a pem")
    assert.is_false(ok)
    assert.are.equal("BAD_INPUT", err.code)
    assert.matches("no PEM private key", err.message)
    ok, err = pcall(crypto.jwt_rs256, {}, {}, "-----BEGIN " .. "PRIVATE KEY-----\nAAAA\n-----END " .. "PRIVATE KEY-----\n")
    assert.is_false(ok)
    assert.are.equal("BAD_INPUT", err.code)
    ok, err = pcall(crypto.jwt_rs256, { alg = "HS256" }, {}, key)
    assert.is_false(ok)
    assert.are.equal("BAD_ARGUMENT", err.code)
    ok, err = pcall(crypto.jwt_rs256, "x", {}, key)
    assert.is_false(ok)
    assert.matches("header must be a table", err.message)
  end)

  it("refuses a non-RSA key for RS256", function()
    assert(sh(("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s/ec.pem"):format(dir)))
    local ok, err = pcall(crypto.jwt_rs256, {}, {}, read(dir .. "/ec.pem"))
    assert.is_false(ok)
    assert.matches("RSA private key", err.message)
  end)

  it("computes the SHA-1 and SHA-256 thumbprints openssl reports", function()
    local function fp(alg)
      local out = sh(("openssl x509 -in %s/cert.pem -noout -fingerprint -%s"):format(dir, alg))
      return (out:match("=([%x:]+)"):gsub(":", ""):lower())
    end
    assert.are.equal(fp("sha1"), hex(crypto.x509_thumbprint(cert)))
    assert.are.equal(20, #crypto.x509_thumbprint(cert))
    assert.are.equal(fp("sha256"), hex(crypto.x509_thumbprint_sha256(key .. cert)))
    local ok, err = pcall(crypto.x509_thumbprint, key)
    assert.is_false(ok)
    assert.matches("no PEM certificate", err.message)
  end)
end)
