-- json module: cjson decode with guards, our encoder
local json = require("json")

describe("json.decode", function()
  it("decodes objects, arrays, strings, booleans and null", function()
    local v = json.decode('{"s":"x\\u00e9\\n","b":true,"f":false,"n":null,"a":[1,"two"]}')
    assert.are.equal("x\u{e9}\n", v.s)
    assert.is_true(v.b)
    assert.is_false(v.f)
    assert.are.equal(json.null, v.n)
    assert.are.same({ 1, "two" }, v.a)
  end)

  it("keeps empty arrays distinct from empty objects", function()
    local v = json.decode('{"arr":[ ],"obj":{},"nested":[[],{}]}')
    assert.is_true(json.is_array(v.arr))
    assert.is_false(json.is_array(v.obj))
    assert.is_true(json.is_object(v.obj))
    assert.are.equal(0, #v.arr)
    assert.is_true(json.is_array(v.nested[1]))
    assert.are.equal('{"arr":[],"nested":[[],{}],"obj":{}}', json.encode(v))
  end)

  it("decodes integers as Lua integers and fractions as floats", function()
    local v = json.decode("[0, -7, 9007199254740992, 2.5, 1e3]")
    assert.are.equal("integer", math.type(v[1]))
    assert.are.equal(-7, v[2])
    assert.are.equal("integer", math.type(v[3]))
    assert.are.equal(9007199254740992, v[3])
    assert.are.equal("float", math.type(v[4]))
    assert.are.equal(1000, v[5])
  end)

  it("turns integers beyond 2^53 into exact strings", function()
    local v = json.decode('{"id":12345678901234567890,"neg":-9007199254740993,"ok":9007199254740993.5}')
    assert.are.equal("12345678901234567890", v.id)
    assert.are.equal("-9007199254740993", v.neg)
    assert.are.equal("number", type(v.ok))
  end)

  it("does not rewrite numbers or brackets inside strings", function()
    local v = json.decode('{"s":"[] 123456789012345678901 \\"[]\\""}')
    assert.are.equal('[] 123456789012345678901 "[]"', v.s)
  end)

  it("does not rescan the digits of a fraction or exponent", function()
    local v = json.decode("[1.12345678901234567890, 2e12345678901234567]")
    assert.are.equal("number", type(v[1]))
    assert.is_true(v[2] == math.huge)
  end)

  for _, bad in ipairs({ "[1,2", "{\"a\":}", "", "nul", "[1,]x", "0x10", "NaN", "[00012345678901234567890]" }) do
    it("rejects invalid JSON " .. string.format("%q", bad) .. " with a JSON_DECODE error", function()
      local ok, err = pcall(json.decode, bad)
      assert.is_false(ok)
      assert.are.equal("JSON_DECODE", err.code)
      assert.matches("invalid JSON", err.message)
      assert.matches("json_spec.lua:%d+", err.where)
    end)
  end

  it("reports positions of the caller's text, not the rewritten one", function()
    local _, err = pcall(json.decode, '[[], 12345678901234567890, }')
    assert.matches("character 28", err.message)
  end)
end)

describe("json.encode", function()
  it("encodes integers exactly and floats shortest round-trip", function()
    assert.are.equal("[1234567890123456789,0.1,3,-0.5,1e+300]",
      json.encode({ 1234567890123456789, 0.1, 3.0, -0.5, 1e300 }))
    local x = 2 / 3
    assert.are.equal(x, json.decode(json.encode({ x }))[1])
  end)

  it("keeps an integral float beyond 2^53 a number, so it decodes back to the same float", function()
    local text = json.encode({ 12345678901237846.0, -2.0 ^ 60, 2.0 ^ 52 })
    assert.are.equal("[12345678901237846.0,-1.152921504606847e+18,4503599627370496]", text)
    local back = json.decode(text)
    assert.are.equal("float", math.type(back[1]))
    assert.are.equal(12345678901237846.0, back[1])
    assert.are.equal(text, json.encode(back))
  end)

  it("sorts object keys and converts number keys to strings", function()
    assert.are.equal('{"a":1,"b":{"c":true,"d":null}}', json.encode({ b = { d = json.null, c = true }, a = 1 }))
    assert.are.equal('{"1":"x","a":"y"}', json.encode({ [1] = "x", a = "y" }))
  end)

  it("encodes marked tables as arrays or objects even when empty", function()
    assert.are.equal("[]", json.encode(json.array()))
    assert.are.equal("{}", json.encode({}))
    assert.are.equal("{}", json.encode(json.object({})))
    assert.are.equal('{"1":"a"}', json.encode(json.object({ "a" })))
    assert.are.equal('[1,null,3]', json.encode(json.array({ 1, json.null, 3 })))
  end)

  it("escapes strings", function()
    assert.are.equal('"a\\"b\\\\c\\n\\u0001/é"', json.encode('a"b\\c\n\1/é'))
  end)

  it("indents when asked", function()
    assert.are.equal('{\n  "a": [\n    1\n  ],\n  "b": {}\n}', json.encode({ a = { 1 }, b = {} }, { indent = true }))
  end)

  it("round-trips a document", function()
    local doc = '{"a":[1,2,{"b":[]}],"c":"d","e":{},"f":null,"g":12345678901234567890}'
    local v = json.decode(doc)
    v.g = tonumber(v.g) and v.g
    assert.are.equal('{"a":[1,2,{"b":[]}],"c":"d","e":{},"f":null,"g":"12345678901234567890"}', json.encode(v))
  end)

  it("names the path of a value it cannot encode", function()
    local ok, err = pcall(json.encode, { a = { 1, { f = print } } })
    assert.is_false(ok)
    assert.are.equal("JSON_ENCODE", err.code)
    assert.matches("function at %$%.a%[2%]%.f", err.message)
  end)

  it("refuses NaN, infinity and cycles", function()
    assert.has_error(function() json.encode({ 0 / 0 }) end)
    assert.has_error(function() json.encode(math.huge) end)
    local t = {}
    t.self = t
    local ok, err = pcall(json.encode, t)
    assert.is_false(ok)
    assert.matches("cycle", err.message)
  end)

  it("checks its options", function()
    local ok, err = pcall(json.encode, {}, "pretty")
    assert.is_false(ok)
    assert.are.equal("BAD_ARGUMENT", err.code)
  end)
end)
