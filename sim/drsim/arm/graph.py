"""Azure Resource Graph: POST /providers/Microsoft.ResourceGraph/resources (the query API).

The request is checked against the official SDK model (azure-mgmt-resourcegraph QueryRequest, whose
operations default to api-version 2021-03-01); the response has the QueryResponse shape
(totalRecords, count, resultTruncated, $skipToken, data as objectArray or table).

Only a subset of KQL is served, parsed into a small tree (never matched with regular expressions):

    <table> ( | where <predicate> | project <column>, ... | order by <column> [asc|desc], ...
              | limit <n> | take <n> )*

    tables     Resources, ResourceContainers, AuthorizationResources (case-insensitive, as in ARG)
    predicate  <column> (== | != | =~ | !~) <literal>, <column> (in | in~ | !in | !in~) (<literal>, ...),
               combined with `and` / `or` and parentheses; columns may be dotted (properties.x)
    literals   'single' or "double" quoted strings, integers, true / false

Anything else is refused with the service's error shape: 400 BadRequest whose details name
InvalidQuery and the parser's failure (code, line, characterPositionInLine, token).

What the tables hold (FIDELITY: modelled on the ARG table reference; not every type the real
service indexes):
- Resources: every stored resource at the top level of a provider (one type segment) plus private
  DNS zone virtual network links (a tracked child resource). Child resources that a parent's GET
  carries inline (subnets and peerings in a VNet, connections in a storage account) are in their
  parent's `properties`, as in the real rows; other children (blob containers, private DNS zone
  groups, vault keys, rule collection groups) are not in Resource Graph at all.
- ResourceContainers: resource groups (type microsoft.resources/subscriptions/resourcegroups).
- AuthorizationResources: role assignments.
Rows carry the GET view plus the columns resourceGroup, subscriptionId, tenantId; `type` is lower
case, as the real service returns it.

Lag: the real index follows ARM within seconds. The simulator is current unless frozen
(admin POST /graph/freeze keeps serving the rows of that moment until DELETE /graph/freeze), which
is how specs model a Resource Graph that lags ARM.
"""
import base64
import copy
import datetime
import hashlib
import json

from ..errors import ArmError
from ..state import SIM, new_guid
from . import contract

VERSIONS = ("2021-03-01",)
TABLES = ("resources", "resourcecontainers", "authorizationresources")
MAX_TOP = 1000
TRACKED_CHILDREN = ("microsoft.network/privatednszones/virtualnetworklinks",)

_frozen = {"rows": None}


# ---- errors ---------------------------------------------------------------------------------------
def _bad_query(code, message, pos=None, token=None):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    detail = {"code": code, "message": message}
    if pos is not None:
        detail.update({"line": 1, "characterPositionInLine": pos, "token": token or ""})
    return ArmError(400, "BadRequest",
                    f"Please provide below info when asking for support: timestamp = {now}, "
                    f"correlationId = {new_guid()}.",
                    details=[{"code": "InvalidQuery", "message": "Query is invalid. Please refer to the documentation "
                              "for the Azure Resource Graph service and fix the error before retrying."}, detail])


# ---- tokenizer --------------------------------------------------------------------------------------
OPERATORS = ("!in~", "in~", "!in", "==", "!=", "=~", "!~", "|", "(", ")", ",", ".")


class Tok:
    __slots__ = ("kind", "value", "pos")

    def __init__(self, kind, value, pos):
        self.kind, self.value, self.pos = kind, value, pos

    def __repr__(self):
        return f"{self.kind}:{self.value!r}@{self.pos}"


def tokenize(text):
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "'\"":
            j, buf = i + 1, []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            if j >= n:
                raise _bad_query("ParserFailure", "unterminated string literal", i, text[i:])
            out.append(Tok("str", "".join(buf), i))
            i = j + 1
            continue
        if c.isdigit():
            j = i
            while j < n and text[j].isdigit():
                j += 1
            out.append(Tok("int", int(text[i:j]), i))
            i = j
            continue
        if c.isalpha() or c == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            # in~ / in are operators, not identifiers, after a column
            if word == "in" and j < n and text[j] == "~":
                out.append(Tok("op", "in~", i))
                i = j + 1
                continue
            out.append(Tok("ident", word, i))
            i = j
            continue
        for op in OPERATORS:
            if text.startswith(op, i):
                out.append(Tok("op", op, i))
                i += len(op)
                break
        else:
            # a character outside the subset: a token of its own, refused by the parser where it stands
            out.append(Tok("op", c, i))
            i += 1
    out.append(Tok("end", None, n))
    return out


# ---- parser -----------------------------------------------------------------------------------------
class Parser:
    def __init__(self, text):
        self.toks = tokenize(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i]

    def next(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def fail(self, t, what):
        raise _bad_query("ParserFailure", f"{what}, found {t.value!r}" if t.kind != "end" else f"{what}, found the end",
                         t.pos, "" if t.value is None else str(t.value))

    def expect_op(self, op):
        t = self.next()
        if t.kind != "op" or t.value != op:
            self.fail(t, f"expected {op!r}")
        return t

    def word(self, t, *words):
        return t.kind == "ident" and t.value.lower() in words

    def query(self):
        t = self.next()
        if t.kind != "ident":
            self.fail(t, "expected a table name")
        if t.value.lower() not in TABLES:
            raise _bad_query("UnknownTable", f"Table '{t.value}' is not supported. Supported tables: Resources, "
                             "ResourceContainers, AuthorizationResources.", t.pos, t.value)
        q = {"table": t.value.lower(), "ops": []}
        while True:
            t = self.next()
            if t.kind == "end":
                return q
            if t.kind != "op" or t.value != "|":
                self.fail(t, "expected '|'")
            q["ops"].append(self.operator())

    def operator(self):
        t = self.next()
        if self.word(t, "where"):
            return ("where", self.disjunction())
        if self.word(t, "project"):
            cols = [self.column()]
            while self.peek().kind == "op" and self.peek().value == ",":
                self.next()
                cols.append(self.column())
            return ("project", cols)
        if self.word(t, "order", "sort"):
            if not self.word(self.next(), "by"):
                self.fail(self.toks[self.i - 1], "expected 'by'")
            keys = [self.sort_key()]
            while self.peek().kind == "op" and self.peek().value == ",":
                self.next()
                keys.append(self.sort_key())
            return ("order", keys)
        if self.word(t, "limit", "take"):
            n = self.next()
            if n.kind != "int":
                self.fail(n, "expected a row count")
            return ("limit", n.value)
        if t.kind == "ident":
            raise _bad_query("UnsupportedOperator", f"The operator '{t.value}' is not supported by this service.",
                             t.pos, t.value)
        self.fail(t, "expected a tabular operator")

    def sort_key(self):
        col = self.column()
        desc = False
        if self.word(self.peek(), "asc", "desc"):
            desc = self.next().value.lower() == "desc"
        return (col, desc)

    def column(self):
        t = self.next()
        if t.kind != "ident":
            self.fail(t, "expected a column name")
        path = [t.value]
        while self.peek().kind == "op" and self.peek().value == ".":
            self.next()
            p = self.next()
            if p.kind != "ident":
                self.fail(p, "expected a property name")
            path.append(p.value)
        return tuple(path)

    def disjunction(self):
        node = self.conjunction()
        while self.word(self.peek(), "or"):
            self.next()
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self):
        node = self.comparison()
        while self.word(self.peek(), "and"):
            self.next()
            node = ("and", node, self.comparison())
        return node

    def comparison(self):
        t = self.peek()
        if t.kind == "op" and t.value == "(":
            self.next()
            node = self.disjunction()
            self.expect_op(")")
            return node
        col = self.column()
        op = self.next()
        if op.kind == "ident" and op.value == "in":
            op = Tok("op", "in", op.pos)
        if op.kind != "op" or op.value not in ("==", "!=", "=~", "!~", "in", "in~", "!in", "!in~"):
            if op.kind == "ident":
                raise _bad_query("UnsupportedOperator", f"The operator '{op.value}' is not supported by this "
                                 "service.", op.pos, op.value)
            self.fail(op, "expected a comparison operator")
        if op.value in ("in", "in~", "!in", "!in~"):
            self.expect_op("(")
            vals = [self.literal()]
            while self.peek().kind == "op" and self.peek().value == ",":
                self.next()
                vals.append(self.literal())
            self.expect_op(")")
            return ("cmp", op.value, col, vals)
        return ("cmp", op.value, col, self.literal())

    def literal(self):
        t = self.next()
        if t.kind in ("str", "int"):
            return t.value
        if self.word(t, "true", "false"):
            return t.value.lower() == "true"
        self.fail(t, "expected a literal")


def parse(text):
    return Parser(text).query()


# ---- evaluation ---------------------------------------------------------------------------------------
def _get(row, path):
    v = row
    for p in path:
        if not isinstance(v, dict):
            return None
        # column names are case-sensitive in KQL; property bags are looked up as stored
        v = v.get(p)
    return v


def _fold(v):
    return v.lower() if isinstance(v, str) else v


def _eval(node, row):
    kind = node[0]
    if kind == "and":
        return _eval(node[1], row) and _eval(node[2], row)
    if kind == "or":
        return _eval(node[1], row) or _eval(node[2], row)
    _, op, col, want = node
    v = _get(row, col)
    if op == "==":
        return v == want
    if op == "!=":
        return v != want
    if op == "=~":
        return _fold(v) == _fold(want)
    if op == "!~":
        return _fold(v) != _fold(want)
    if op == "in":
        return v in want
    if op == "!in":
        return v not in want
    folded = [_fold(w) for w in want]
    if op == "in~":
        return _fold(v) in folded
    return _fold(v) not in folded


def _sort_value(v):
    return (0, "") if v is None else (1, _fold(v) if isinstance(v, str) else str(v))


def run(q, rows):
    columns = None
    for op in q["ops"]:
        if op[0] == "where":
            rows = [r for r in rows if _eval(op[1], r)]
        elif op[0] == "project":
            columns = [".".join(c) for c in op[1]]
            rows = [{".".join(c) if len(c) > 1 else c[0]: _get(r, c) for c in op[1]} for r in rows]
        elif op[0] == "order":
            for col, desc in reversed(op[1]):
                rows = sorted(rows, key=lambda r, c=col: _sort_value(_get(r, c)), reverse=desc)
        elif op[0] == "limit":
            rows = rows[:op[1]]
    return rows, columns


# ---- the tables -----------------------------------------------------------------------------------------
def _rg_of(rid):
    parts = rid.split("/")
    low = [p.lower() for p in parts]
    if "resourcegroups" in low:
        return parts[low.index("resourcegroups") + 1]
    return ""


def _row(r, spec_render):
    from .engine import render
    out = render(spec_render, r) if spec_render else copy.deepcopy(r)
    out["type"] = (out.get("type") or "").lower()
    out["resourceGroup"] = _rg_of(out.get("id", "")).lower()
    out["subscriptionId"] = SIM.config.subscription_id
    out["tenantId"] = SIM.config.tenant_id
    return out


def current_rows():
    """{table: [rows]} built from the ARM store as it is now."""
    from .types import TYPES
    tables = {t: [] for t in TABLES}
    with SIM.lock:
        for k, r in SIM.arm.resources.items():
            t = (r.get("type") or "").lower()
            if t == "microsoft.resources/resourcegroups":
                row = _row(r, None)
                row["type"] = "microsoft.resources/subscriptions/resourcegroups"
                tables["resourcecontainers"].append(row)
                continue
            if t == "microsoft.authorization/roleassignments":
                tables["authorizationresources"].append(_row(r, None))
                continue
            if "/providers/" not in k or k.count("/providers/") != 1:
                continue
            segs = k.split("/providers/", 1)[1].split("/")
            if len(segs) == 3 or t in TRACKED_CHILDREN:
                tables["resources"].append(_row(r, TYPES.get(t)))
    return tables


def freeze():
    _frozen["rows"] = current_rows()
    return {"frozen": True, "rows": sum(len(v) for v in _frozen["rows"].values())}


@SIM.on_reset
def unfreeze():
    _frozen["rows"] = None


def _rows(table):
    rows = _frozen["rows"] if _frozen["rows"] is not None else current_rows()
    return rows[table]


# ---- the request ----------------------------------------------------------------------------------------
def _token(query, subs, offset):
    h = hashlib.sha256(json.dumps([query, subs]).encode()).hexdigest()[:16]
    return base64.b64encode(json.dumps({"o": offset, "h": h}).encode()).decode(), h


def _untoken(tok, query, subs):
    try:
        d = json.loads(base64.b64decode(tok.encode(), validate=True).decode())
        offset, h = int(d["o"]), d["h"]
    except (ValueError, KeyError, TypeError):
        raise ArmError(400, "BadRequest", "The $skipToken is not valid.",
                       details=[{"code": "InvalidSkipToken", "message": "The $skipToken is malformed."}]) from None
    if h != _token(query, subs, 0)[1]:
        raise ArmError(400, "BadRequest", "The $skipToken does not belong to this query and scope.",
                       details=[{"code": "InvalidSkipToken",
                                 "message": "Send the same query and scopes with a $skipToken."}])
    return offset


def query(req):
    v = req.query.get("api-version")
    if not v:
        raise ArmError(400, "MissingApiVersionParameter",
                       "The api-version query parameter (?api-version=) is required for all requests.")
    if v not in VERSIONS:
        raise ArmError(400, "InvalidApiVersionParameter",
                       f"The api-version '{v}' is invalid. The supported versions are '{','.join(VERSIONS)}'.")
    if req.method != "POST":
        raise ArmError(405, "MethodNotAllowed", f"{req.method} is not allowed on Resource Graph resources.")
    body = req.json
    if not isinstance(body, dict):
        raise ArmError(400, "InvalidRequestContent",
                       "The request content was invalid and could not be deserialized: 'a JSON object is expected'.")
    model = contract.load_model("azure.mgmt.resourcegraph.models", "QueryRequest")
    clean = contract.check(model, body)
    if clean.get("facets"):
        raise _bad_query("UnsupportedFeature", "facets are not served by the simulator")
    if clean.get("managementGroups"):
        raise _bad_query("UnsupportedFeature", "management group scopes are not served by the simulator")
    subs = [s.lower() for s in (clean.get("subscriptions") or [SIM.config.subscription_id])]
    opts = clean.get("options") or {}
    top = opts.get("$top")
    if top is not None and not 1 <= int(top) <= MAX_TOP:
        raise ArmError(400, "BadRequest", f"$top must be between 1 and {MAX_TOP}.",
                       details=[{"code": "InvalidQueryOptions", "message": "$top is out of range."}])
    fmt = (opts.get("resultFormat") or "objectArray")
    q = parse(clean["query"])
    rows = [r for r in _rows(q["table"]) if r["subscriptionId"].lower() in subs]
    rows.sort(key=lambda r: r.get("id", "").lower())      # a stable order across pages
    rows, columns = run(q, rows)
    size = min(int(top or SIM.config.graph_page_size), MAX_TOP, int(SIM.config.graph_page_size))
    start = int(opts.get("$skip") or 0)
    if opts.get("$skipToken"):
        start = _untoken(opts["$skipToken"], clean["query"], subs)
    page = rows[start:start + size]
    out = {"totalRecords": len(rows), "count": len(page), "resultTruncated": "false"}
    if start + size < len(rows):
        out["$skipToken"] = _token(clean["query"], subs, start + size)[0]
    if fmt == "table":
        cols = columns or sorted({k for r in page for k in r})
        out["data"] = {"columns": [{"name": c, "type": _col_type(page, c)} for c in cols],
                       "rows": [[r.get(c) for c in cols] for r in page]}
    else:
        out["data"] = page
    return 200, out


def _col_type(rows, col):
    for r in rows:
        v = r.get(col)
        if isinstance(v, bool):
            return "boolean"
        if isinstance(v, int):
            return "integer"
        if isinstance(v, float):
            return "number"
        if isinstance(v, str):
            return "string"
        if v is not None:
            return "object"
    return "string"
