"""A small tokenizer for Databricks SQL.

Used to classify statements and to parse the Databricks-only statement families that sqlglot
falls back to a generic ``Command`` for (see ddl.py). It respects string literals ('...', "...",
r'...', backslash escapes), backtick identifiers (`` `a``b` `` -> a`b), comments (-- and /* */),
named parameter markers (:name) and $$-quoted function bodies.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import SqlError


@dataclass(frozen=True)
class Token:
    kind: str      # WORD, QIDENT, STRING, NUMBER, PARAM, OP, DOLLAR, EOF
    value: str     # unescaped value (identifier text, string contents, operator)
    pos: int       # offset of the token's first character in the statement
    end: int       # offset just after the token

    def is_word(self, *words: str) -> bool:
        return self.kind == "WORD" and self.value.upper() in words


_OPS2 = ("<=", ">=", "<>", "!=", "==", "||", "::", "->", "<=>")


def tokenize(text: str) -> list[Token]:
    toks: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise SqlError.parse("unterminated comment", i)
            i = j + 2
            continue
        start = i
        raw = False
        if c in "rR" and i + 1 < n and text[i + 1] in "'\"":
            raw = True
            i += 1
            c = text[i]
        if c in "'\"":
            q = c
            i += 1
            buf = []
            while True:
                if i >= n:
                    raise SqlError.parse("unterminated string literal", start)
                ch = text[i]
                if ch == "\\" and not raw and i + 1 < n:
                    nxt = text[i + 1]
                    buf.append({"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(nxt, nxt))
                    i += 2
                    continue
                if ch == q:
                    if i + 1 < n and text[i + 1] == q:   # doubled quote
                        buf.append(q)
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(ch)
                i += 1
            toks.append(Token("STRING", "".join(buf), start, i))
            continue
        if c == "`":
            i += 1
            buf = []
            while True:
                if i >= n:
                    raise SqlError.parse("unterminated backtick identifier", start)
                if text[i] == "`":
                    if i + 1 < n and text[i + 1] == "`":
                        buf.append("`")
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(text[i])
                i += 1
            toks.append(Token("QIDENT", "".join(buf), start, i))
            continue
        if text.startswith("$$", i):
            j = text.find("$$", i + 2)
            if j < 0:
                raise SqlError.parse("unterminated $$ body", i)
            toks.append(Token("DOLLAR", text[i + 2:j], start, j + 2))
            i = j + 2
            continue
        if c == ":" and i + 1 < n and (text[i + 1].isalpha() or text[i + 1] == "_") and \
                not (toks and toks[-1].kind == "OP" and toks[-1].value == ":"):
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            toks.append(Token("PARAM", text[i + 1:j], start, j))
            i = j
            continue
        if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            j = i
            while j < n and (text[j].isalnum() or text[j] == "."):
                j += 1
            toks.append(Token("NUMBER", text[i:j], start, j))
            i = j
            continue
        if c.isalpha() or c == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            toks.append(Token("WORD", text[i:j], start, j))
            i = j
            continue
        for op in sorted(_OPS2, key=len, reverse=True):
            if text.startswith(op, i):
                toks.append(Token("OP", op, start, i + len(op)))
                i += len(op)
                break
        else:
            toks.append(Token("OP", c, start, i + 1))
            i += 1
    toks.append(Token("EOF", "", n, n))
    return toks


def split_statements(text: str) -> list[str]:
    """Split on top-level semicolons (outside strings/comments); empty pieces dropped."""
    toks = tokenize(text)
    out, start = [], 0
    for t in toks:
        if t.kind == "OP" and t.value == ";":
            piece = text[start:t.pos].strip()
            if piece:
                out.append(piece)
            start = t.end
    piece = text[start:].strip()
    if piece:
        out.append(piece)
    return out
