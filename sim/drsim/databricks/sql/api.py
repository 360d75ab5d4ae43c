"""Statement Execution API (/api/2.0/sql/statements) on workspace hosts.

Shapes follow databricks-sdk's StatementResponse / StatementStatus / ResultManifest / ResultData.
Each statement runs in a worker thread; wait_timeout "0s" returns PENDING at once and the client
polls GET /api/2.0/sql/statements/{id}; "5s".."50s" waits that long, then returns the current state
(on_wait_timeout CONTINUE) or cancels (CANCEL). Results are INLINE JSON_ARRAY in chunks of
CONFIG["chunk_rows"] rows and at most CONFIG["chunk_bytes"] bytes (FIDELITY: real chunks are MBs;
small chunks here make clients exercise paging) fetched with GET .../result/chunks/{n}.

Admin (host "admin"): POST /sql/config {"chunk_rows", "chunk_bytes", "delay_ms", "clone_ms_per_file",
"enforce_privileges"} tunes chunking, adds an execution delay (to test polling and cancellation), a
simulated copy time per file a CLONE copies (so benches see the cost of copying), and turns on
privilege checks (off by default); GET /sql/config reads it.
"""
from __future__ import annotations

import json
import re
import threading
import time
import uuid

from ...blob import BLOBS, parse_url
from ...errors import DatabricksError
from ...http import route
from ...state import SIM
from ..ucmodel import UC, UCError
from .engine import ENGINE, Ctx
from .errors import SqlError
from .types import format_value, manifest_type

DEFAULTS = {"chunk_rows": 1000, "chunk_bytes": 1 << 20, "delay_ms": 0, "clone_ms_per_file": 0,
            "enforce_privileges": 0}
CONFIG = dict(DEFAULTS)
MAX_KEPT = 5000

_ALLOWED = {"statement", "warehouse_id", "catalog", "schema", "parameters", "wait_timeout",
            "on_wait_timeout", "disposition", "format", "row_limit", "byte_limit", "query_tags"}
_PARAM_FIELDS = {"name", "value", "type"}


def _bad(msg, code="INVALID_PARAMETER_VALUE", status=400):
    return DatabricksError(status, code, msg)


class Statement:
    def __init__(self, ws_id: str, ctx: Ctx, text: str, row_limit, byte_limit):
        self.id = str(uuid.uuid4())
        self.ws_id = ws_id
        self.ctx = ctx
        self.text = text
        self.row_limit = row_limit
        self.byte_limit = byte_limit
        self.state = "PENDING"
        self.error: SqlError | None = None
        self.columns: list = []
        self.chunks: list[dict] = []       # {"row_offset", "rows" (formatted), "byte_count"}
        self.total_rows = 0
        self.truncated = False
        self.cancel = threading.Event()
        self.done = threading.Event()
        self.created = time.time()
        ctx.cancel = self.cancel

    def run(self):
        try:
            delay = CONFIG.get("delay_ms") or 0
            if delay:
                if self.cancel.wait(delay / 1000.0):
                    self._finish_cancelled()
                    return
            if self.cancel.is_set():
                self._finish_cancelled()
                return
            self.state = "RUNNING"
            res = ENGINE.execute(self.ctx, self.text)
            copy_ms = (CONFIG.get("clone_ms_per_file") or 0) * res.copied_files
            if copy_ms:
                # simulated copy time of a clone, outside the engine lock (a warehouse copies
                # files in parallel with other statements)
                self.cancel.wait(copy_ms / 1000.0)
            if self.cancel.is_set():
                self._finish_cancelled()
                return
            self._store(res)
            self.state = "SUCCEEDED"
        except SqlError as e:
            self.error = e
            self.state = "CANCELED" if e.error_class == "CANCELLED" else "FAILED"
        except Exception as e:   # a simulator bug: report it like an internal error
            import traceback
            traceback.print_exc()
            self.error = SqlError("INTERNAL_ERROR", f"simulator bug: {type(e).__name__}: {e}")
            self.state = "FAILED"
        finally:
            self.done.set()

    def _finish_cancelled(self):
        self.state = "CANCELED"
        self.done.set()

    def _store(self, res):
        self.columns = res.columns
        rows = res.rows
        if self.row_limit is not None and len(rows) > self.row_limit:
            rows = rows[:self.row_limit]
            self.truncated = True
        chunk_rows = max(1, int(CONFIG["chunk_rows"]))
        chunk_bytes = max(1, int(CONFIG["chunk_bytes"]))
        total_bytes = 0
        cur, cur_bytes, offset = [], 0, 0
        count = 0
        for r in rows:
            fr = [format_value(v) for v in r]
            size = len(json.dumps(fr))
            if self.byte_limit is not None and total_bytes + size > self.byte_limit:
                self.truncated = True
                break
            if cur and (len(cur) >= chunk_rows or cur_bytes + size > chunk_bytes):
                self.chunks.append({"row_offset": offset, "rows": cur, "byte_count": cur_bytes})
                offset += len(cur)
                cur, cur_bytes = [], 0
            cur.append(fr)
            cur_bytes += size
            total_bytes += size
            count += 1
        if cur:
            self.chunks.append({"row_offset": offset, "rows": cur, "byte_count": cur_bytes})
        self.total_rows = count
        self.total_bytes = total_bytes

    # ---- shapes -----------------------------------------------------------------------------
    def status(self) -> dict:
        st = {"state": self.state}
        if self.error is not None and self.state in ("FAILED", "CANCELED"):
            st["error"] = self.error.as_status_error()
            if self.state == "FAILED":
                st["sql_state"] = self.error.sql_state
        return st

    def manifest(self) -> dict:
        cols = []
        for i, (name, dtext) in enumerate(self.columns):
            c = {"name": name, "position": i}
            c.update(manifest_type(dtext))
            cols.append(c)
        schema = {"column_count": len(cols)}
        if cols:
            schema["columns"] = cols
        m = {"format": "JSON_ARRAY", "schema": schema, "total_chunk_count": len(self.chunks),
             "total_row_count": self.total_rows, "total_byte_count": getattr(self, "total_bytes", 0),
             "truncated": self.truncated}
        if self.chunks:
            m["chunks"] = [{"chunk_index": i, "row_offset": c["row_offset"], "row_count": len(c["rows"]),
                            "byte_count": c["byte_count"]} for i, c in enumerate(self.chunks)]
        return m

    def chunk(self, i: int) -> dict:
        c = self.chunks[i]
        d = {"chunk_index": i, "row_offset": c["row_offset"], "row_count": len(c["rows"]),
             "byte_count": c["byte_count"], "data_array": c["rows"]}
        if i + 1 < len(self.chunks):
            d["next_chunk_index"] = i + 1
            d["next_chunk_internal_link"] = f"/api/2.0/sql/statements/{self.id}/result/chunks/{i + 1}"
        return d

    def response(self) -> dict:
        out = {"statement_id": self.id, "status": self.status()}
        if self.state == "SUCCEEDED":
            out["manifest"] = self.manifest()
            if self.chunks:
                out["result"] = self.chunk(0)
            else:
                out["result"] = {"chunk_index": 0, "row_offset": 0, "row_count": 0}
        return out


class Registry:
    def __init__(self):
        self.lock = threading.Lock()
        self.items: dict[str, Statement] = {}

    def add(self, s: Statement):
        with self.lock:
            if len(self.items) >= MAX_KEPT:
                for k in sorted(self.items, key=lambda k: self.items[k].created)[:MAX_KEPT // 10]:
                    if self.items[k].done.is_set():
                        del self.items[k]
            self.items[s.id] = s

    def get(self, ws_id: str, sid: str) -> Statement:
        with self.lock:
            s = self.items.get(sid)
        if s is None or s.ws_id != ws_id:
            raise DatabricksError(404, "NOT_FOUND", f"Statement {sid} was not found.")
        return s

    def clear(self):
        with self.lock:
            for s in self.items.values():
                s.cancel.set()
            self.items = {}


STATEMENTS = Registry()


def _reset():
    STATEMENTS.clear()
    CONFIG.clear()
    CONFIG.update(DEFAULTS)
    ENGINE.reset()


SIM.on_reset(_reset)


class _Snapshot:
    """--state-dir: a summary of the SQL data per table (dump only, like the model's snapshot;
    FIDELITY/limitation: table rows are not persisted)."""

    def dump(self):
        out = {}
        for tid, td in list(ENGINE.store.tables.items()):
            v = td.versions.get(td.current)
            files = v.files if v is not None else []
            out[tid] = {"version": td.current, "columns": [list(c) for c in td.columns],
                        "rows": sum(f.rows for f in files), "files": len(files),
                        "size": sum(f.size for f in files), "clone_source": td.clone_source}
        return {"tables": out, "statements": len(STATEMENTS.items)}


SIM.register_component("sql", _Snapshot)


def _who(req) -> str:
    p = req.principal or {}
    return p.get("appid") or p.get("client_id") or p.get("upn") or p.get("sub") or "unknown"


def _check_warehouse(ws_id: int, wid: str):
    """The warehouse must exist in this workspace and be RUNNING (via the warehouses module of the
    Databricks part when it is present)."""
    try:
        from .. import warehouses as W     # the SQL warehouses store
    except ImportError:
        return
    getter = getattr(W, "warehouse_state", None)
    if getter is None:
        return
    state = getter(ws_id, wid)
    if state is None:
        raise DatabricksError(404, "RESOURCE_DOES_NOT_EXIST",
                              f"Warehouse {wid} does not exist in this workspace.")
    if state != "RUNNING":
        raise _bad(f"Warehouse {wid} is not running (state {state}); start it first.")


_WAIT_RE = re.compile(r"^(\d+)s$")


@route("workspace", "POST", "/api/2.0/sql/statements")
def execute_statement(req):
    body = req.json
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    unknown = sorted(set(body) - _ALLOWED)
    if unknown:
        # FIDELITY: stricter than the real API (which ignores unknown fields) to catch typos.
        raise _bad(f"Unknown field(s) in the request: {', '.join(unknown)}.")
    text = body.get("statement")
    if not isinstance(text, str) or not text.strip():
        raise _bad("statement is required and must be a non-empty string.")
    wid = body.get("warehouse_id")
    if not isinstance(wid, str) or not wid:
        raise _bad("warehouse_id is required.")
    wait = body.get("wait_timeout", "10s")
    m = _WAIT_RE.match(str(wait))
    if not m or not (int(m.group(1)) == 0 or 5 <= int(m.group(1)) <= 50):
        raise _bad(f"wait_timeout must be 0s or between 5s and 50s, got {wait!r}.")
    wait_s = int(m.group(1))
    on_timeout = body.get("on_wait_timeout", "CONTINUE")
    if on_timeout not in ("CONTINUE", "CANCEL"):
        raise _bad(f"on_wait_timeout must be CONTINUE or CANCEL, got {on_timeout!r}.")
    disposition = body.get("disposition", "INLINE")
    if disposition == "EXTERNAL_LINKS":
        # FIDELITY: the simulator serves INLINE results only.
        raise _bad("disposition EXTERNAL_LINKS is not implemented by the simulator; use INLINE.",
                   code="NOT_IMPLEMENTED", status=501)
    if disposition != "INLINE":
        raise _bad(f"disposition must be INLINE or EXTERNAL_LINKS, got {disposition!r}.")
    fmt = body.get("format", "JSON_ARRAY")
    if fmt != "JSON_ARRAY":
        raise _bad(f"format {fmt!r} requires disposition EXTERNAL_LINKS; INLINE supports JSON_ARRAY only."
                   if fmt in ("ARROW_STREAM", "CSV") else f"Invalid format {fmt!r}.")
    limits = {}
    for k in ("row_limit", "byte_limit"):
        v = body.get(k)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise _bad(f"{k} must be a non-negative integer.")
        limits[k] = v
    params = {}
    raw = body.get("parameters") or []
    if not isinstance(raw, list):
        raise _bad("parameters must be a list of {name, value, type}.")
    for i, p in enumerate(raw):
        if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not p["name"]:
            raise _bad(f"parameters[{i}]: name is required.")
        extra = sorted(set(p) - _PARAM_FIELDS)
        if extra:
            raise _bad(f"parameters[{i}]: unknown field(s) {', '.join(extra)}.")
        v = p.get("value")
        if v is not None and not isinstance(v, str):
            raise _bad(f"parameters[{i}] ({p['name']}): value must be a string or null.")
        params[p["name"]] = (v, p.get("type"))
    for k in ("catalog", "schema"):
        if body.get(k) is not None and not isinstance(body[k], str):
            raise _bad(f"{k} must be a string.")
    ws_id = int(req.workspace["id"])
    _check_warehouse(ws_id, wid)
    try:
        ms = UC.for_workspace(ws_id)
        assignment = UC.assignment(ws_id)
    except UCError as e:
        raise DatabricksError(e.status, e.error_code, e.message) from None
    default_catalog = assignment[1] if assignment else None
    ctx = Ctx(ms=ms, workspace_id=ws_id, user=_who(req),
              catalog=body.get("catalog") or default_catalog, schema=body.get("schema") or "default",
              params=params, enforce=bool(CONFIG.get("enforce_privileges")))
    st = Statement(str(ws_id), ctx, text, limits["row_limit"], limits["byte_limit"])
    STATEMENTS.add(st)
    threading.Thread(target=st.run, name=f"sql-{st.id[:8]}", daemon=True).start()
    if wait_s > 0 and not st.done.wait(wait_s):
        if on_timeout == "CANCEL":
            st.cancel.set()
            st.done.wait(5)
            if st.state in ("PENDING", "RUNNING"):
                st.state = "CANCELED"
    return st.response()


@route("workspace", "GET", "/api/2.0/sql/statements/{statement_id}")
def get_statement(req):
    return STATEMENTS.get(str(req.workspace["id"]), req.params["statement_id"]).response()


@route("workspace", "GET", "/api/2.0/sql/statements/{statement_id}/result/chunks/{chunk_index}")
def get_chunk(req):
    st = STATEMENTS.get(str(req.workspace["id"]), req.params["statement_id"])
    if st.state != "SUCCEEDED":
        raise _bad(f"Statement {st.id} has no result (state {st.state}).", code="BAD_REQUEST")
    idx = req.params["chunk_index"]
    if not idx.isdigit() or int(idx) >= len(st.chunks):
        raise _bad(f"Chunk index {idx} is out of range: the result has {len(st.chunks)} chunk(s).")
    return st.chunk(int(idx))


@route("workspace", "POST", "/api/2.0/sql/statements/{statement_id}/cancel")
def cancel_statement(req):
    st = STATEMENTS.get(str(req.workspace["id"]), req.params["statement_id"])
    if not st.done.is_set():
        st.cancel.set()
    return {}


@route("admin", "GET", "/sql/config", auth=False)
def get_config(req):
    return dict(CONFIG)


@route("admin", "POST", "/sql/config", auth=False)
def set_config(req):
    body = req.json or {}
    for k, v in body.items():
        if k not in DEFAULTS:
            raise _bad(f"Unknown SQL config key {k!r}; expected one of {', '.join(DEFAULTS)}.")
        if k == "enforce_privileges" and isinstance(v, bool):
            v = int(v)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0 or \
                (k in ("chunk_rows", "chunk_bytes") and v == 0):
            raise _bad(f"{k} must be a {'positive' if k in ('chunk_rows', 'chunk_bytes') else 'non-negative'} integer.")
        CONFIG[k] = v
    return dict(CONFIG)


@route("admin", "POST", "/sql/storage/replicate", auth=False)
def replicate_storage(req):
    """Stand-in for storage geo-replication (GRS / object replication): copy the blobs of every
    EXTERNAL non-Delta table location under `source` to the same relative path under `target`,
    e.g. {"source": "abfss://data@stprod.dfs.core.windows.net/",
    "target": "abfss://data@stdr.dfs.core.windows.net/", "lag_ms": 0}. With lag_ms 0 (default) the
    copy is done when the call returns; with lag_ms > 0 it runs in the background after that lag
    (the reply says pending), as geo-replication lags its source. Delta tables are not copied:
    they move between regions by DEEP CLONE. FIDELITY: files written at the source after the call
    are copied by the next call only."""
    body = req.json or {}
    src, dst = body.get("source"), body.get("target")
    if not isinstance(src, str) or not isinstance(dst, str) or not src or not dst:
        raise _bad("source and target URL prefixes are required.")
    if set(body) - {"source", "target", "lag_ms"}:
        raise _bad(f"Unknown field(s): {', '.join(sorted(set(body) - {'source', 'target', 'lag_ms'}))}.")
    lag = body.get("lag_ms", 0)
    if not isinstance(lag, int) or isinstance(lag, bool) or lag < 0:
        raise _bad("lag_ms must be a non-negative integer.")
    sloc, dloc = parse_url(src), parse_url(dst)
    blobs = BLOBS.list(sloc)
    delta_roots = {n[:n.index("_delta_log/")] for n in blobs if "_delta_log/" in n}
    plan = sorted(n for n in blobs if n.endswith(".parquet")
                  and not any(n.startswith(r) for r in delta_roots))
    copied = sorted({(src.rstrip("/") + "/" + n.rsplit("/", 1)[0]) if "/" in n else src.rstrip("/")
                     for n in plan})

    def run():
        if lag:
            time.sleep(lag / 1000)
        for n in plan:
            BLOBS.copy(sloc, n, dloc, n)

    if lag:
        threading.Thread(target=run, name="drsim-geo-replication", daemon=True).start()
        return {"copied": copied, "pending": True, "lag_ms": lag}
    run()
    return {"copied": copied}