"""Physical storage of table data in DuckDB.

One in-memory DuckDB database holds the data of every table of every metastore. Each UC table
(keyed by its table_id) owns one physical DuckDB table per retained Delta version, named
``d_<table_id>_v<n>``; a write copies the current version to a new physical table and applies the
change there (copy-on-write), so ``VERSION AS OF n`` and ``DEEP CLONE ... VERSION AS OF n`` read a
real older state.

Delta "files" are modelled for clone accounting: each version has a list of files
(id, rows, bytes). INSERT adds one file; UPDATE/DELETE/MERGE that touch rows rewrite the table
into one new file (FIDELITY: real Delta rewrites only the touched files). A DEEP CLONE copies the
files of the source version that the target does not already hold from the same source lineage,
and removes the ones the target holds that the source version no longer has, which gives the real
clone's incremental counts (a re-clone of an unchanged source copies 0 files).

Only the last RETAIN versions keep their physical table (FIDELITY: like VACUUM with a short
retention; an older version reads as DELTA_FILE_NOT_FOUND_DETAILED).
"""
from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field

import duckdb

from .errors import SqlError

RETAIN = 12

_file_seq = itertools.count(1)


@dataclass
class DFile:
    id: str
    rows: int
    size: int


@dataclass
class Version:
    n: int
    physical: str | None           # None once expired
    files: list[DFile]


@dataclass
class TableData:
    table_id: str
    columns: list[tuple[str, str]]      # (name, duckdb type)
    versions: dict[int, Version] = field(default_factory=dict)
    current: int = -1
    # clone lineage: source table_id the current files were cloned from, and those file ids
    clone_source: str | None = None


def _phys_name(table_id: str, n: int) -> str:
    return "d_" + re.sub(r"[^A-Za-z0-9]", "_", table_id) + f"_v{n}"


def qi(name: str) -> str:
    """Quote a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


class Store:
    def __init__(self):
        self.db = duckdb.connect(":memory:")
        self.lock = threading.RLock()
        self.tables: dict[str, TableData] = {}

    def reset(self):
        with self.lock:
            self.db.close()
            self.db = duckdb.connect(":memory:")
            self.tables = {}

    def cursor(self):
        return self.db.cursor()

    # ---- lookups --------------------------------------------------------
    def get(self, table_id: str) -> TableData | None:
        return self.tables.get(table_id)

    def physical(self, table_id: str, version: int | None = None) -> str:
        td = self.tables.get(table_id)
        if td is None or td.current < 0:
            raise SqlError("DELTA_MISSING_TRANSACTION_LOG", f"No data stored for table id {table_id}.")
        n = td.current if version is None else version
        v = td.versions.get(n)
        if v is None or n > td.current:
            raise SqlError("DELTA_VERSIONS_NOT_CONTIGUOUS" if n > td.current else "DELTA_FILE_NOT_FOUND_DETAILED",
                           f"Cannot time travel Delta table to version {n}. Available versions: "
                           f"[{min(td.versions)}, {td.current}].")
        if v.physical is None:
            raise SqlError("DELTA_FILE_NOT_FOUND_DETAILED",
                           f"Version {n} of table id {table_id} was vacuumed (only the last {RETAIN} "
                           "versions are retained by the simulator).")
        return v.physical

    def files(self, table_id: str, version: int | None = None) -> list[DFile]:
        td = self.tables[table_id]
        return td.versions[td.current if version is None else version].files

    # ---- writes ---------------------------------------------------------
    def create(self, cur, table_id: str, columns: list[tuple[str, str]], select_sql: str | None = None,
               params=None, n: int = 0) -> Version:
        """Create a fresh table (version n, default 0) with columns, optionally filled by a
        DuckDB SELECT."""
        self.drop(cur, table_id)
        td = TableData(table_id, list(columns))
        name = _phys_name(table_id, n)
        cols = ", ".join(f"{qi(c)} {t}" for c, t in columns)
        cur.execute(f"CREATE TABLE {qi(name)} ({cols})")
        files: list[DFile] = []
        if select_sql is not None:
            cur.execute(f"INSERT INTO {qi(name)} {select_sql}", params or [])
            rows = cur.execute(f"SELECT count(*) FROM {qi(name)}").fetchone()[0]
            if rows:
                files.append(self._new_file(cur, name, rows))
        v = Version(n, name, files)
        td.versions[n] = v
        td.current = n
        self.tables[table_id] = td
        return v

    def _new_file(self, cur, physical: str, rows: int, where_new: str | None = None) -> DFile:
        size = self._bytes(cur, physical) if where_new is None else 0
        return DFile(f"part-{next(_file_seq):05d}", rows, max(size, rows * 16))

    @staticmethod
    def _bytes(cur, physical: str) -> int:
        cols = [r[0] for r in cur.execute(f"DESCRIBE {qi(physical)}").fetchall()]
        if not cols:
            return 0
        expr = " + ".join(f"coalesce(length(CAST({qi(c)} AS VARCHAR)), 0)" for c in cols)
        return int(cur.execute(f"SELECT coalesce(sum({expr}), 0) FROM {qi(physical)}").fetchone()[0]) + 64

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
        """kind: 'append' (one new file with added_rows) or 'rewrite' (all rows in one new file)."""
        td = self.tables[table_id]
        old_files = td.versions[td.current].files
        if kind == "append":
            files = list(old_files)
            if added_rows:
                files.append(DFile(f"part-{next(_file_seq):05d}", added_rows,
                                   max(added_rows * 16, self._bytes(cur, new) - sum(f.size for f in old_files))))
        elif changed:
            rows = cur.execute(f"SELECT count(*) FROM {qi(new)}").fetchone()[0]
            files = [self._new_file(cur, new, rows)] if rows else []
        else:
            files = list(old_files)
        n = td.current + 1 if n is None else n
        v = Version(n, new, files)
        td.versions[n] = v
        td.current = n
        self._expire(cur, td)
        return v

    def replace_contents(self, cur, table_id: str, columns: list[tuple[str, str]],
                         select_sql: str | None, params=None, n: int | None = None) -> Version:
        """CREATE OR REPLACE on an existing table: a new version with new columns (and rows)."""
        td = self.tables.get(table_id)
        if td is None:
            return self.create(cur, table_id, columns, select_sql, params, n=n or 0)
        n = td.current + 1 if n is None else n
        name = _phys_name(table_id, n)
        cur.execute(f"DROP TABLE IF EXISTS {qi(name)}")
        cols = ", ".join(f"{qi(c)} {t}" for c, t in columns)
        cur.execute(f"CREATE TABLE {qi(name)} ({cols})")
        if select_sql is not None:
            cur.execute(f"INSERT INTO {qi(name)} {select_sql}", params or [])
        rows = cur.execute(f"SELECT count(*) FROM {qi(name)}").fetchone()[0]
        files = [self._new_file(cur, name, rows)] if rows else []
        td.columns = list(columns)
        td.versions[n] = Version(n, name, files)
        td.current = n
        td.clone_source = None
        self._expire(cur, td)
        return td.versions[n]

    def clone(self, cur, target_id: str, source_id: str, source_version: int | None,
              n: int | None = None) -> dict:
        """Deep clone source (at version) into target; returns the clone metrics."""
        src = self.tables[source_id]
        sv = src.current if source_version is None else source_version
        src_phys = self.physical(source_id, sv)
        src_files = src.versions[sv].files
        tgt = self.tables.get(target_id)
        held: dict[str, DFile] = {}
        if tgt is not None and tgt.clone_source == source_id and tgt.current >= 0:
            held = {f.id: f for f in tgt.versions[tgt.current].files}
        src_ids = {f.id for f in src_files}
        copied = [f for f in src_files if f.id not in held]
        removed = [f for fid, f in held.items() if fid not in src_ids]
        if tgt is not None and tgt.clone_source != source_id and tgt.current >= 0:
            removed = list(tgt.versions[tgt.current].files)
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
            tgt = TableData(target_id, columns)
            self.tables[target_id] = tgt
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
        n = td.current + 1 if n is None else n
        td.versions[n] = Version(n, cv.physical, list(cv.files))
        td.current = n
        self._expire(cur, td)
        return td.versions[n]

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

    def copy(self, cur, src_key: str, dst_key: str) -> Version:
        """Copy the current data of src_key to a fresh dst_key (storage replication of files)."""
        src = self.tables[src_key]
        self.drop(cur, dst_key)
        td = TableData(dst_key, list(src.columns))
        name = _phys_name(dst_key, 0)
        cur.execute(f"CREATE TABLE {qi(name)} AS SELECT * FROM {qi(self.physical(src_key))}")
        td.versions[0] = Version(0, name, [DFile(f.id, f.rows, f.size) for f in src.versions[src.current].files])
        td.current = 0
        self.tables[dst_key] = td
        return td.versions[0]

    def columns_of(self, cur, physical: str) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in cur.execute(f"DESCRIBE {qi(physical)}").fetchall()]
