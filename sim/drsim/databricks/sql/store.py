"""Table data: real Delta tables in blob storage (Azurite), with DuckDB as the query engine.

Where the data lives. Every table's data is bound to a place in blob storage (``bind``): a UC
managed table at its storage_location (under the schema's, catalog's or metastore's managed
root), an EXTERNAL table at its LOCATION; ``abfss://container@account.dfs.core.windows.net/path``
is Azurite account ``account``, container ``container``, blobs under ``path/`` (drsim.blob). A Delta
table there is a real Delta table: Parquet data files ``part-NNNNN-<uuid>.c000.snappy.parquet``
next to ``_delta_log/NNNNNNNNNNNNNNNNNNNN.json``, one commit per statement (version numbers are the
table's history versions), which any Delta reader opens (tools/deltacheck.py does, with delta-rs).
An EXTERNAL non-Delta table (USING PARQUET) is just the Parquet files under its location.

FIDELITY: the simulator writes the Delta commits itself (as Databricks Runtime writes its own):
delta-rs cannot record Databricks' operation names in commitInfo (it refuses a custom
``operation``) and has no clone; the Parquet files are written by pyarrow, the schemaString by
delta-rs's own Arrow -> Delta mapping, and every read of an older version, every DESCRIBE HISTORY
and the independent check go through delta-rs, so a commit it cannot read fails the tests.
FIDELITY: tables are not physically partitioned (metaData.partitionColumns is empty; UC keeps the
partition columns); files carry only ``numRecords`` statistics.

The query engine. DuckDB holds a cache of the table versions a statement may read: one physical
DuckDB table per cached Delta version, named ``d_<table_id>_v<n>``; a write copies the current
version to a scratch table, applies the change there (copy-on-write) and commits it, writing the
new Parquet file(s) to blob storage; the Delta commit itself is written by ``flush`` once the
engine knows the commitInfo (operation, parameters, metrics). A version not in the cache (older
ones after a restart of the simulator) is read back with delta-rs.

Files: INSERT adds one file (the rows it inserted); UPDATE/DELETE/MERGE that touch rows rewrite the
table into one new file (FIDELITY: real Delta rewrites only the touched files). A DEEP CLONE copies
the source version's files that the target does not hold yet (same file names, blob copies into the
target's location) and removes the ones the source version no longer has, which gives the real
clone's incremental counts (a re-clone of an unchanged source copies 0 files).

Only the last RETAIN versions can be read (FIDELITY: like VACUUM with a short retention, though the
files stay in storage; an older version reads as DELTA_FILE_NOT_FOUND_DETAILED).
"""
from __future__ import annotations

import io
import itertools
import json
import re
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ...blob import BLOBS, Loc
from .errors import SqlError

RETAIN = 12

_file_seq = itertools.count(1)


@dataclass
class DFile:
    id: str            # file name relative to the table's location
    rows: int
    size: int


@dataclass
class Version:
    n: int
    physical: str | None           # DuckDB cache table; None once expired or not loaded
    files: list[DFile]


@dataclass
class Place:
    loc: Loc
    delta: bool


@dataclass
class DeltaLog:
    """What the table's _delta_log holds so far (the simulator is its only writer)."""
    written: int = -1                                  # last committed version
    files: dict = field(default_factory=dict)          # file id -> DFile at `written`
    meta: dict | None = None                           # last metaData content written
    table_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    # catalog-managed tables: version -> its staged commit (ratified by UC, not published yet)
    staged: dict = field(default_factory=dict)


@dataclass
class TableData:
    table_id: str
    columns: list[tuple[str, str]]      # (name, duckdb type)
    versions: dict[int, Version] = field(default_factory=dict)
    current: int = -1
    # clone lineage: source table_id the current files were cloned from, and those file ids
    clone_source: str | None = None
    place: Place | None = None
    log: DeltaLog | None = None


def _phys_name(table_id: str, n: int) -> str:
    return "d_" + re.sub(r"[^A-Za-z0-9]", "_", table_id) + f"_v{n}"


def qi(name: str) -> str:
    """Quote a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def _arrow(cur, sql: str) -> pa.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cur.execute(sql).to_arrow_table()


def _delta_schema(arrow_schema: pa.Schema) -> str:
    from deltalake import Schema
    return Schema.from_arrow(arrow_schema).to_json()


def _commit_name(n: int) -> str:
    return f"_delta_log/{n:020d}.json"


# Delta's catalog-managed commits (table feature catalogManaged, preview name catalogOwned-preview)
CATALOG_MANAGED = ("delta.feature.catalogManaged", "delta.feature.catalogOwned-preview")


def _catalog_managed(configuration: dict | None) -> bool:
    conf = configuration or {}
    return any(str(conf.get(k, "")).lower() in ("supported", "enabled") for k in CATALOG_MANAGED)


class Store:
    def __init__(self):
        self.db = duckdb.connect(":memory:")
        self.lock = threading.RLock()
        self.tables: dict[str, TableData] = {}
        self.places: dict[str, Place] = {}

    def reset(self):
        with self.lock:
            self.db.close()
            self.db = duckdb.connect(":memory:")
            self.tables = {}
            self.places = {}


    def cursor(self):
        return self.db.cursor()

    # ---- where the data lives --------------------------------------------------------------------
    def bind(self, key: str, loc: Loc, delta: bool):
        """Bind a table's data (store key) to its place in blob storage."""
        p = Place(loc, delta)
        self.places[key] = p
        td = self.tables.get(key)
        if td is not None and td.place != p:
            td.place = p
            if delta and td.log is None:
                td.log = DeltaLog()

    def place(self, key: str) -> Place | None:
        return self.places.get(key)

    # ---- lookups --------------------------------------------------------
    def get(self, table_id: str, probe: bool = True) -> TableData | None:
        """The table's data; a Delta table not cached yet is read from its log (after a restart)
        unless probe=False (the caller knows the table is new: saves a listing)."""
        td = self.tables.get(table_id)
        p = self.places.get(table_id)
        if p is not None and not p.delta:
            return self._sync_files(table_id, td, p)
        if td is None and probe and p is not None and BLOBS.available:
            td = self._load_delta(table_id, p)
        return td

    def physical(self, table_id: str, version: int | None = None) -> str:
        td = self.get(table_id)
        if td is None or td.current < 0:
            raise SqlError("DELTA_MISSING_TRANSACTION_LOG", f"No data stored for table id {table_id}.")
        n = td.current if version is None else version
        if n > td.current:
            raise SqlError("DELTA_VERSIONS_NOT_CONTIGUOUS",
                           f"Cannot time travel Delta table to version {n}. Available versions: "
                           f"[{min(td.versions)}, {td.current}].")
        if n <= td.current - RETAIN:
            raise SqlError("DELTA_FILE_NOT_FOUND_DETAILED",
                           f"Version {n} of table id {table_id} was vacuumed (only the last {RETAIN} "
                           "versions are retained by the simulator).")
        v = td.versions.get(n)
        if v is None or v.physical is None:
            v = self._load_version(td, n)
        return v.physical

    def files(self, table_id: str, version: int | None = None) -> list[DFile]:
        td = self.tables[table_id]
        return td.versions[td.current if version is None else version].files

    # ---- files in blob storage -------------------------------------------------------------------
    def _write_file(self, cur, td: TableData, sql: str) -> DFile | None:
        """Write the rows of a DuckDB query as one Parquet file at the table's place."""
        data = _arrow(cur, sql)
        if data.num_rows == 0:
            return None
        buf = io.BytesIO()
        pq.write_table(data, buf, compression="snappy")
        raw = buf.getvalue()
        name = f"part-{next(_file_seq):05d}-{uuid.uuid4()}.c000.snappy.parquet"
        if td.place is None:
            raise SqlError("INTERNAL_ERROR", f"Table id {td.table_id} has no storage location.")
        BLOBS.put(td.place.loc, name, raw)
        return DFile(name, data.num_rows, len(raw))

    def _sync_blobs(self, td: TableData, before: list[DFile]):
        """Non-Delta data: the files are the table; delete those the new version no longer has."""
        if td.place is None or td.place.delta:
            return
        keep = {f.id for f in td.versions[td.current].files}
        for f in before:
            if f.id not in keep:
                BLOBS.delete(td.place.loc, f.id)

    def _sync_files(self, key: str, td: TableData | None, p: Place) -> TableData | None:
        """A non-Delta location: its Parquet files are the data (another writer, the storage
        geo-replication stand-in, may have put them there): reload when the listing changed."""
        if not BLOBS.available:
            return td
        listing = {n: sz for n, sz in BLOBS.list(p.loc).items()
                   if "/" not in n and n.endswith(".parquet")}
        have = {} if td is None or td.current < 0 else {f.id: f.size for f in td.versions[td.current].files}
        if td is not None and listing == have:
            return td
        if td is None and not listing:
            return None
        cur = self.db.cursor()
        try:
            cols = td.columns if td is not None else None
            tables = [pq.read_table(io.BytesIO(BLOBS.get(p.loc, n) or b"")) for n in sorted(listing)]
            files = [DFile(n, t.num_rows, listing[n]) for n, t in zip(sorted(listing), tables)]
            if td is None:
                td = TableData(key, [], place=p)
                self.tables[key] = td
            n = td.current + 1
            name = _phys_name(key, n)
            if tables:
                arrow = pa.concat_tables(tables, promote_options="permissive")
            else:
                arrow = None
            self._from_arrow(cur, name, arrow, cols)
            if cols is None:
                td.columns = self.columns_of(cur, name)
            td.versions[n] = Version(n, name, files)
            td.current = n
            self._expire(cur, td)
        finally:
            cur.close()
        return td

    def _from_arrow(self, cur, name: str, arrow: pa.Table | None, cols):
        cur.execute(f"DROP TABLE IF EXISTS {qi(name)}")
        if cols:
            cur.execute(f"CREATE TABLE {qi(name)} ({', '.join(f'{qi(c)} {t}' for c, t in cols)})")
            if arrow is not None and arrow.num_rows:
                cur.register("_drsim_arrow", arrow)
                try:
                    have = set(arrow.column_names)
                    sel = ", ".join(qi(c) if c in have else "NULL" for c, _ in cols)
                    cur.execute(f"INSERT INTO {qi(name)} SELECT {sel} FROM _drsim_arrow")
                finally:
                    cur.unregister("_drsim_arrow")
        else:
            cur.register("_drsim_arrow", arrow if arrow is not None else pa.table({}))
            try:
                cur.execute(f"CREATE TABLE {qi(name)} AS SELECT * FROM _drsim_arrow")
            finally:
                cur.unregister("_drsim_arrow")

    # ---- Delta: reading back with delta-rs --------------------------------------------------------
    def _open(self, p: Place, version: int | None = None):
        from deltalake import DeltaTable
        opts = BLOBS.storage_options(p.loc.account)
        uri = BLOBS.delta_uri(p.loc)
        return DeltaTable(uri, version=version, storage_options=opts)

    def _load_delta(self, key: str, p: Place) -> TableData | None:
        """A Delta table this simulator process has not cached (a restart with --state-dir):
        read its latest version from the log with delta-rs."""
        if not BLOBS.list(p.loc, "_delta_log/"):
            return None
        dt = self._open(p)
        n = dt.version()
        td = TableData(key, [], place=p, log=DeltaLog())
        md = dt.metadata()
        td.log.table_uuid = md.id
        td.log.meta = {"schemaString": dt.schema().to_json(), "configuration": dict(md.configuration),
                       "description": md.description, "partitionColumns": []}
        self.tables[key] = td
        td.log.written = n
        v = self._load_version(td, n, dt)
        td.current = n
        td.log.files = {f.id: f for f in v.files}
        cur = self.db.cursor()
        try:
            td.columns = self.columns_of(cur, v.physical)
        finally:
            cur.close()
        return td

    def _load_version(self, td: TableData, n: int, dt=None) -> Version:
        if td.place is None or not td.place.delta or td.log is None or td.log.written < n:
            raise SqlError("DELTA_FILE_NOT_FOUND_DETAILED",
                           f"Version {n} of table id {td.table_id} is not available.")
        dt = dt or self._open(td.place, n)
        acts = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
        files = [DFile(a["path"], int(a.get("num_records") or 0), int(a["size_bytes"])) for a in acts]
        name = _phys_name(td.table_id, n)
        cur = self.db.cursor()
        try:
            self._from_arrow(cur, name, dt.to_pyarrow_table(), td.columns or None)
        finally:
            cur.close()
        v = Version(n, name, files)
        td.versions[n] = v
        return v

    def read_history(self, key: str, limit: int | None = None) -> list[dict] | None:
        """The table's commitInfo entries from its real _delta_log (newest first, with `version`);
        None when the table has no Delta log yet.

        FIDELITY: the commit files are read here, one GET per version shown (newest first), not
        through delta-rs: its history() re-reads the log on every call (about 35 ms for one entry
        against Azurite, 100 ms with the open), too slow for the DESCRIBE HISTORY per table that
        replication issues on every sync. delta-rs reads the same files in the tests and in
        tools/deltacheck.py."""
        p = self.places.get(key)
        if p is None or not p.delta or not BLOBS.available:
            return None
        td = self.get(key)
        if td is None or td.log is None or td.log.written < 0:
            return None
        out = []
        n = td.log.written
        staged = getattr(td.log, "staged", None) or {}
        while n >= 0 and (limit is None or len(out) < limit):
            # through UC: a ratified commit not published yet is part of the history
            raw = BLOBS.get(p.loc, staged[n]) if n in staged else BLOBS.get(p.loc, _commit_name(n))
            if raw is None:
                break
            for line in raw.decode().splitlines():
                if line.startswith('{"commitInfo"'):
                    info = json.loads(line)["commitInfo"]
                    info["version"] = n
                    out.append(info)
                    break
            n -= 1
        return out

    # ---- writes ---------------------------------------------------------
    def _fresh(self, table_id: str, columns) -> TableData:
        td = TableData(table_id, list(columns))
        p = self.places.get(table_id)
        td.place = p
        if p is not None and p.delta:
            td.log = DeltaLog()
        return td

    def create(self, cur, table_id: str, columns: list[tuple[str, str]], select_sql: str | None = None,
               params=None, n: int = 0) -> Version:
        """Create a fresh table (version n, default 0) with columns, optionally filled by a
        DuckDB SELECT."""
        old = self.tables.get(table_id)
        before = list(old.versions[old.current].files) if old is not None and old.current >= 0 else []
        log = old.log if old is not None else None
        self.drop(cur, table_id)
        td = self._fresh(table_id, columns)
        if log is not None and td.log is not None:
            td.log = log            # the same location: the log goes on
        name = _phys_name(table_id, n)
        cols = ", ".join(f"{qi(c)} {t}" for c, t in columns)
        cur.execute(f"CREATE TABLE {qi(name)} ({cols})")
        files: list[DFile] = []
        if select_sql is not None:
            cur.execute(f"INSERT INTO {qi(name)} {select_sql}", params or [])
            f = self._write_file(cur, td, f"SELECT * FROM {qi(name)}")
            if f:
                files.append(f)
        v = Version(n, name, files)
        td.versions[n] = v
        td.current = n
        self.tables[table_id] = td
        self._sync_blobs(td, before)
        return v

    def materialize(self, cur, table_id: str, columns: list[tuple[str, str]], n: int) -> Version:
        """An empty cache entry for a table whose data was never written (created through the
        REST API): nothing is written to storage until its first commit."""
        self.drop(cur, table_id)
        td = self._fresh(table_id, columns)
        name = _phys_name(table_id, n)
        cur.execute(f"CREATE TABLE {qi(name)} ({', '.join(f'{qi(c)} {t}' for c, t in columns)})")
        td.versions[n] = Version(n, name, [])
        td.current = n
        self.tables[table_id] = td
        return td.versions[n]

    def begin_write(self, cur, table_id: str) -> tuple[str, str]:
        """Copy the current version into a scratch table; returns (old physical, new physical)."""
        td = self.tables[table_id]
        old = self.physical(table_id)
        new = _phys_name(table_id, td.current) + f"_w{next(_file_seq)}"
        cur.execute(f"DROP TABLE IF EXISTS {qi(new)}")
        cols = ", ".join(f"{qi(c)} {t}" for c, t in td.columns)
        cur.execute(f"CREATE TABLE {qi(new)} ({cols})")            # keeps NOT NULL constraints
        cur.execute(f"INSERT INTO {qi(new)} SELECT * FROM {qi(old)}")
        return old, new

    def abort_write(self, cur, new: str):
        cur.execute(f"DROP TABLE IF EXISTS {qi(new)}")

    def commit_write(self, cur, table_id: str, new: str, kind: str, added_rows: int = 0,
                     changed: bool = True, n: int | None = None) -> Version:
        """kind: 'append' (one new file with the added rows) or 'rewrite' (all rows in one new
        file); changed=False keeps the files (a schema-only change such as ADD COLUMNS)."""
        td = self.tables[table_id]
        cv = td.versions[td.current]
        old_files = cv.files
        if kind == "append":
            files = list(old_files)
            if added_rows:
                f = self._write_file(cur, td, f"SELECT * FROM {qi(new)} EXCEPT ALL "
                                              f"SELECT * FROM {qi(cv.physical)}")
                if f:
                    files.append(f)
        elif changed:
            f = self._write_file(cur, td, f"SELECT * FROM {qi(new)}")
            files = [f] if f else []
        else:
            files = list(old_files)
        n = td.current + 1 if n is None else n
        v = Version(n, new, files)
        td.versions[n] = v
        td.current = n
        self._sync_blobs(td, old_files)
        self._expire(cur, td)
        return v

    def replace_contents(self, cur, table_id: str, columns: list[tuple[str, str]],
                         select_sql: str | None, params=None, n: int | None = None) -> Version:
        """CREATE OR REPLACE on an existing table: a new version with new columns (and rows)."""
        td = self.tables.get(table_id)
        if td is None:
            return self.create(cur, table_id, columns, select_sql, params, n=n or 0)
        before = list(td.versions[td.current].files) if td.current >= 0 else []
        n = td.current + 1 if n is None else n
        name = _phys_name(table_id, n)
        cur.execute(f"DROP TABLE IF EXISTS {qi(name)}")
        cols = ", ".join(f"{qi(c)} {t}" for c, t in columns)
        cur.execute(f"CREATE TABLE {qi(name)} ({cols})")
        if select_sql is not None:
            cur.execute(f"INSERT INTO {qi(name)} {select_sql}", params or [])
        f = self._write_file(cur, td, f"SELECT * FROM {qi(name)}")
        files = [f] if f else []
        td.columns = list(columns)
        td.versions[n] = Version(n, name, files)
        td.current = n
        td.clone_source = None
        self._sync_blobs(td, before)
        self._expire(cur, td)
        return td.versions[n]

    def clone(self, cur, target_id: str, source_id: str, source_version: int | None,
              n: int | None = None, target_exists: bool = True) -> dict:
        """Deep clone source (at version) into target: copy the source version's files the target
        does not hold yet into the target's location; returns the clone metrics."""
        src = self.tables[source_id]
        sv = src.current if source_version is None else source_version
        src_phys = self.physical(source_id, sv)
        src_files = src.versions[sv].files
        tgt = self.get(target_id, probe=target_exists)
        # the files the target holds (its current version): a file of the source version with the
        # same name was copied by an earlier clone (names are unique: part-N-<uuid>), so only the
        # others are copied, and the target's files the source version lacks are removed
        held: dict[str, DFile] = {}
        if tgt is not None and tgt.current >= 0:
            held = {f.id: f for f in tgt.versions[tgt.current].files}
        src_ids = {f.id for f in src_files}
        copied = [f for f in src_files if f.id not in held]
        removed = [f for fid, f in held.items() if fid not in src_ids]
        metrics = {
            "source_table_size": sum(f.size for f in src_files),
            "source_num_of_files": len(src_files),
            "num_removed_files": len(removed),
            "num_copied_files": len(copied),
            "removed_files_size": sum(f.size for f in removed),
            "copied_files_size": sum(f.size for f in copied),
        }
        columns = list(src.columns)
        if tgt is None:
            tgt = self._fresh(target_id, columns)
            self.tables[target_id] = tgt
        if tgt.place is None:
            raise SqlError("INTERNAL_ERROR", f"Table id {target_id} has no storage location.")
        for f in copied:
            BLOBS.copy(src.place.loc, f.id, tgt.place.loc, f.id)
        n = tgt.current + 1 if n is None else n
        name = _phys_name(target_id, n)
        cur.execute(f"DROP TABLE IF EXISTS {qi(name)}")
        cur.execute(f"CREATE TABLE {qi(name)} AS SELECT * FROM {qi(src_phys)}")
        tgt.columns = columns
        tgt.versions[n] = Version(n, name, [DFile(f.id, f.rows, f.size) for f in src_files])
        tgt.current = n
        tgt.clone_source = source_id
        self._expire(cur, tgt)
        metrics["_changed"] = bool(copied or removed) or n == 0
        return metrics

    def commit_meta(self, cur, table_id: str, n: int | None = None) -> Version | None:
        """A metadata-only Delta commit (SET TBLPROPERTIES, comments...): same data and files."""
        td = self.tables.get(table_id)
        if td is None or td.current < 0:
            return None
        cv = td.versions[td.current]
        if cv.physical is None:
            self.physical(table_id)
            cv = td.versions[td.current]
        n = td.current + 1 if n is None else n
        td.versions[n] = Version(n, cv.physical, list(cv.files))
        td.current = n
        self._expire(cur, td)
        return td.versions[n]

    # ---- Delta: the commit ---------------------------------------------------------------------
    def flush(self, cur, key: str, entry: dict, configuration: dict, description: str | None) -> bool:
        """Write the Delta commit of the table's current version: commitInfo (from the history
        entry), protocol and metaData (first commit, or when the schema, properties or comment
        changed), remove and add actions (the file difference to the last commit). Returns
        whether the metaData changed (what moves UC's delta.lastUpdateVersion)."""
        td = self.tables.get(key)
        if td is None or td.log is None or td.place is None or td.current < 0:
            return True
        n = int(entry["version"])
        if n != td.current:
            return True
        log = td.log
        v = td.versions[n]
        phys = v.physical or self.physical(key)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            schema = cur.execute(f"SELECT * FROM {qi(phys)} LIMIT 0").to_arrow_table().schema
        meta = {"schemaString": _delta_schema(schema), "configuration": dict(configuration or {}),
                "description": description, "partitionColumns": []}
        changed = meta != log.meta
        ts = int(entry.get("timestamp") or time.time() * 1000)
        if log.written < 0 and n > 0:
            self._filler(td, n, meta, ts)
        lines = []
        info = {k: v for k, v in entry.items() if k != "version" and not k.startswith("_")}
        info["timestamp"] = ts
        lines.append({"commitInfo": info})
        if log.written < 0:
            lines.append({"protocol": _protocol(meta["schemaString"])})
        if changed or log.written < 0:
            lines.append({"metaData": {"id": log.table_uuid, "format": {"provider": "parquet", "options": {}},
                                       "schemaString": meta["schemaString"],
                                       "partitionColumns": [], "configuration": meta["configuration"],
                                       "description": description, "createdTime": ts}})
        now = {f.id: f for f in v.files}
        for fid, f in log.files.items():
            if fid not in now:
                lines.append({"remove": {"path": fid, "deletionTimestamp": ts, "dataChange": True,
                                         "extendedFileMetadata": True, "partitionValues": {},
                                         "size": f.size}})
        for fid, f in now.items():
            if fid not in log.files:
                lines.append({"add": {"path": fid, "partitionValues": {}, "size": f.size,
                                      "modificationTime": ts, "dataChange": True,
                                      "stats": json.dumps({"numRecords": f.rows})}})
        body = "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines).encode()
        staged = getattr(log, "staged", None)
        if staged is None:                  # a log pickled before catalog-managed tables
            staged = log.staged = {}
        if _catalog_managed(meta["configuration"]):
            # Unity Catalog ratifies the commit and the writer publishes it to _delta_log/ later:
            # FIDELITY: the newest commit stays staged (_delta_log/_staged_commits/<v>.<uuid>.json)
            # until the next commit publishes it, so the log in storage trails UC by one version.
            name = f"_delta_log/_staged_commits/{n:020d}.{uuid.uuid4()}.json"
            BLOBS.put(td.place.loc, name, body, if_none_match=True)
            self._publish(td, below=n)
            staged[n] = name
        else:
            self._publish(td, below=n)
            BLOBS.put(td.place.loc, _commit_name(n), body, if_none_match=True)
        log.written = n
        log.files = now
        log.meta = meta
        return changed

    def _publish(self, td: TableData, below: int):
        """Publish (backfill) the staged commits of versions below `below` to _delta_log/."""
        staged = getattr(td.log, "staged", None) or {}
        for k in sorted(x for x in staged if x < below):
            raw = BLOBS.get(td.place.loc, staged.pop(k))
            if raw is not None and BLOBS.get(td.place.loc, _commit_name(k)) is None:
                BLOBS.put(td.place.loc, _commit_name(k), raw, if_none_match=True)

    def _filler(self, td: TableData, n: int, meta: dict, ts: int):
        """The first data commit of a table whose earlier versions changed only the catalog
        (properties set through the API before any data): FIDELITY: versions 0..n-1 are written as
        empty commits (the first with protocol and metaData) so that the log has every version."""
        for k in range(n):
            lines = [{"commitInfo": {"timestamp": ts, "operation": "CREATE TABLE" if k == 0 else
                                     "SET TBLPROPERTIES", "operationParameters": {},
                                     "engineInfo": "Databricks-Runtime/drsim"}}]
            if k == 0:
                lines.append({"protocol": _protocol(meta["schemaString"])})
                lines.append({"metaData": {"id": td.log.table_uuid, "format": {"provider": "parquet",
                                                                                "options": {}},
                                           "schemaString": meta["schemaString"], "partitionColumns": [],
                                           "configuration": meta["configuration"],
                                           "description": meta["description"], "createdTime": ts}})
            BLOBS.put(td.place.loc, _commit_name(k),
                      "".join(json.dumps(x) + "\n" for x in lines).encode(), if_none_match=True)
        td.log.written = n - 1
        td.log.meta = meta

    def _expire(self, cur, td: TableData):
        live = {v.physical for k, v in td.versions.items() if k > td.current - RETAIN}
        for k, v in td.versions.items():
            if v.physical is not None and k <= td.current - RETAIN:
                if v.physical not in live:
                    cur.execute(f"DROP TABLE IF EXISTS {qi(v.physical)}")
                v.physical = None

    def drop(self, cur, table_id: str):
        td = self.tables.pop(table_id, None)
        if td is None:
            return
        for v in td.versions.values():
            if v.physical is not None:
                cur.execute(f"DROP TABLE IF EXISTS {qi(v.physical)}")

    def drop_data(self, cur, table_id: str):
        """DROP TABLE of a table that owns its data: the cache goes, and so do its files and log
        (FIDELITY: Databricks deletes a dropped managed table's files after 7 days; here at once)."""
        td = self.tables.get(table_id)
        p = self.places.pop(table_id, None)
        self.drop(cur, table_id)
        if p is not None and BLOBS.available and (td is not None or p.delta):
            for name in BLOBS.list(p.loc):
                BLOBS.delete(p.loc, name)

    def columns_of(self, cur, physical: str) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in cur.execute(f"DESCRIBE {qi(physical)}").fetchall()]


def _protocol(schema_string: str) -> dict:
    if '"timestamp_ntz"' in schema_string:
        return {"minReaderVersion": 3, "minWriterVersion": 7, "readerFeatures": ["timestampNtz"],
                "writerFeatures": ["timestampNtz"]}
    return {"minReaderVersion": 1, "minWriterVersion": 2}
