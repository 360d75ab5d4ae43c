-- An LPeg tokenizer for Databricks SQL text (view and function bodies). It knows what must never be
-- rewritten -- string literals ('..', "..", raw r'..', with backslash escapes), line comments (--),
-- block comments (/* .. */, nested) -- and backtick-quoted identifiers (`a``b`). On top of the
-- token stream it finds dotted names (a.b.c, `a`.b.`c`, with optional spaces around the dots) and
-- rewrites the catalog part of three-or-more-part names through a mapping, keeping every other
-- byte of the text as it was.
local lpeg = require("lpeg")
local errors = require("errors")

local P, S, R, C, Cp, Ct, V = lpeg.P, lpeg.S, lpeg.R, lpeg.C, lpeg.Cp, lpeg.Ct, lpeg.V

local M = {}

local function tok(kind, patt)
  return Ct(lpeg.Cg(Cp(), "pos") * lpeg.Cg(lpeg.Cc(kind), "kind") * lpeg.Cg(C(patt), "text"))
end

local ws = S(" \t\r\n\f\v") ^ 1
local line_comment = P("--") * (1 - S("\r\n")) ^ 0
local block_comment = P({ "B", B = P("/*") * (V("B") + (1 - P("*/"))) ^ 0 * P("*/") })
local function quoted(q)
  return P(q) * ((P("\\") * P(1)) + (P(q) * P(q)) + (1 - S(q .. "\\"))) ^ 0 * P(q)
end
local function raw_quoted(q)
  return S("rR") * P(q) * (1 - P(q)) ^ 0 * P(q)
end
local string_lit = raw_quoted("'") + raw_quoted('"') + quoted("'") + quoted('"')
local backtick = P("`") * ((P("``")) + (1 - P("`"))) ^ 0 * P("`")
local ident_start = R("az", "AZ") + P("_")
local ident_char = ident_start + R("09")
local word = ident_start * ident_char ^ 0
local number = R("09") ^ 1 * (P(".") * R("09") ^ 0) ^ -1 * (S("eE") * S("+-") ^ -1 * R("09") ^ 1) ^ -1
  * S("lLsSyYdDfF") ^ -1 + P(".") * R("09") ^ 1
local dot = P(".")
local other = P(1)

-- Order matters: comments before operators, raw strings before words.
local token = tok("ws", ws) + tok("comment", line_comment + block_comment) + tok("string", string_lit)
  + tok("quoted", backtick) + tok("number", number) + tok("word", word) + tok("dot", dot)
  + tok("other", other)

local stream = Ct(token ^ 0) * Cp()

-- Unterminated strings/comments/backticks make the whole pattern stop early: report where.
function M.tokenize(text)
  assert(type(text) == "string", "tokenize: text must be a string")
  local toks, stop = stream:match(text)
  if stop <= #text then
    local snippet = text:sub(stop, stop + 20)
    errors.raise{ code = "SQL_TOKENIZE_ERROR",
      message = string.format("cannot tokenize SQL at offset %d near %q (unterminated string, comment or quoted name?)",
        stop, snippet), details = { offset = stop } }
  end
  -- An unterminated construct is caught by 'other' one character at a time: detect the opener.
  for _, t in ipairs(toks) do
    if t.kind == "other" and (t.text == "'" or t.text == '"' or t.text == "`") then
      errors.raise{ code = "SQL_TOKENIZE_ERROR",
        message = string.format("unterminated %s starting at offset %d", t.text == "`" and "quoted name"
          or "string literal", t.pos), details = { offset = t.pos } }
    elseif t.kind == "other" and t.text == "/" and text:sub(t.pos, t.pos + 1) == "/*" then
      errors.raise{ code = "SQL_TOKENIZE_ERROR",
        message = string.format("unterminated block comment starting at offset %d", t.pos),
        details = { offset = t.pos } }
    end
  end
  return toks
end

-- The identifier value of a name token (backticks removed, doubled backticks undone).
local function ident_value(t)
  if t.kind == "quoted" then return (t.text:sub(2, -2):gsub("``", "`")) end
  return t.text
end

local function is_name(t) return t and (t.kind == "word" or t.kind == "quoted") end

-- Dotted names in the token stream: list of { parts = {..}, first = token index, last = token
-- index, tokens = { indices of the name parts } }. Whitespace/comments may sit around dots.
function M.names(toks)
  local out = {}
  local i, n = 1, #toks
  local function skip(j)
    while j <= n and (toks[j].kind == "ws" or toks[j].kind == "comment") do j = j + 1 end
    return j
  end
  while i <= n do
    local t = toks[i]
    local prev = i - 1
    while prev >= 1 and (toks[prev].kind == "ws" or toks[prev].kind == "comment") do prev = prev - 1 end
    if is_name(t) and not (prev >= 1 and toks[prev].kind == "dot") then
      local parts, idx = { ident_value(t) }, { i }
      local j = i
      while true do
        local d = skip(j + 1)
        if d <= n and toks[d].kind == "dot" then
          local nx = skip(d + 1)
          if is_name(toks[nx]) then
            parts[#parts + 1] = ident_value(toks[nx]); idx[#idx + 1] = nx; j = nx
          else break end
        else break end
      end
      out[#out + 1] = { parts = parts, first = i, last = j, tokens = idx }
      i = j + 1
    else
      i = i + 1
    end
  end
  return out
end

local function quote_ident(name, was_quoted)
  if not was_quoted and name:match("^[%a_][%w_]*$") then return name end
  return "`" .. name:gsub("`", "``") .. "`"
end

-- Rewrite the catalog of every name with three or more parts whose first part is a key of
-- `catalog_map` (compared case-insensitively, as Unity Catalog names are). Returns the new text
-- and the list of rewrites made ({from=, to=, offset=}).
function M.rewrite_catalogs(text, catalog_map)
  local lower_map = {}
  for k, v in pairs(catalog_map or {}) do lower_map[k:lower()] = v end
  local toks = M.tokenize(text)
  local replaced, changes = {}, {}
  for _, name in ipairs(M.names(toks)) do
    if #name.parts >= 3 then
      local target = lower_map[name.parts[1]:lower()]
      if target then
        local ti = name.tokens[1]
        local t = toks[ti]
        replaced[ti] = quote_ident(target, t.kind == "quoted")
        changes[#changes + 1] = { from = name.parts[1], to = target, offset = t.pos }
      end
    end
  end
  local buf = {}
  for i, t in ipairs(toks) do buf[#buf + 1] = replaced[i] or t.text end
  return table.concat(buf), changes
end

-- Fully qualified references (catalog.schema.object) in a body; two-part names are completed with
-- `default_catalog` when given. Lower-cased, de-duplicated, in order of first appearance.
-- Names with more than three parts (a.b.c.col) count by their first three parts.
function M.references(text, default_catalog)
  local seen, out = {}, {}
  for _, name in ipairs(M.names(M.tokenize(text))) do
    local full
    if #name.parts >= 3 then
      full = (name.parts[1] .. "." .. name.parts[2] .. "." .. name.parts[3]):lower()
    elseif #name.parts == 2 and default_catalog then
      full = (default_catalog .. "." .. name.parts[1] .. "." .. name.parts[2]):lower()
    end
    if full and not seen[full] then seen[full] = true; out[#out + 1] = full end
  end
  return out
end

return M
