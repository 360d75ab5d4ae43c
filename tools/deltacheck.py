#!/usr/bin/env python3
"""deltacheck: are dr's replicas equal to prod at the versions dr records? Checked straight from
blob storage with delta-rs, independently of the simulator's code (this file imports nothing of
drsim: it reads the Delta tables as any Delta reader would).

  tools/deltacheck.py MANIFEST [--azurite FILE] [--json]

MANIFEST (JSON; "-" = stdin; `drhost tools/seed-replicate.lua manifest` writes one from dr's
replication state table and the Tables API): a list of
  {"table": dr name, "source": prod name, "source_version": n,
   "source_location": "abfss://...", "target_location": "abfss://..."}
For each entry: prod's table AT source_version and dr's table at its CURRENT version are opened
from storage; their schemas (column names and types), row counts and content hashes (an
order-independent hash of the rows) must be equal. Prints one line per table and exits 1 when any
differs or cannot be read, 0 when all are equal.

Storage: an abfss://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH URL is the Azurite account ACCOUNT,
container CONTAINER (padded with "0" to 3 characters), blobs under PATH (docs/simulator.md, "Table
data"). --azurite (default $DRHOST_SIM_DIR/azurite.json, written by sim-up) gives the endpoint, the
file of account keys Azurite reads, and the CA of its TLS certificate.
"""
import argparse
import hashlib
import json
import os
import re
import sys

_URL = re.compile(r"^(abfss?|wasbs?)://([^@/]+)@([^./]+)\.(?:dfs|blob)\.core\.windows\.net/?(.*)$", re.I)


def parse(url):
    m = _URL.match(url.strip())
    if not m:
        raise ValueError(f"not an Azure storage URL: {url}")
    container = re.sub(r"[^a-z0-9-]", "-", m.group(2).lower())
    container += "0" * max(0, 3 - len(container))
    return m.group(3).lower(), container, m.group(4).strip("/")


class Storage:
    def __init__(self, cfg_path):
        with open(cfg_path, encoding="utf-8") as f:
            cfg = json.load(f)
        self.endpoint = cfg["endpoint"].rstrip("/")
        self.keys = {}
        with open(cfg["accounts_file"], encoding="utf-8") as f:
            for line in f:
                name, _, key = line.strip().partition(":")
                if name and key:
                    self.keys[name] = key
        if cfg.get("ca"):
            os.environ["SSL_CERT_FILE"] = cfg["ca"]     # before delta-rs builds its first client

    def open(self, url, version=None):
        from deltalake import DeltaTable
        account, container, path = parse(url)
        if account not in self.keys:
            raise KeyError(f"no key for storage account {account}")
        opts = {"account_name": account, "account_key": self.keys[account],
                "azure_endpoint": f"{self.endpoint}/{account}"}
        if self.endpoint.startswith("http://"):
            opts["allow_http"] = "true"
        uri = f"abfss://{container}@{account}.dfs.core.windows.net/{path}"
        return DeltaTable(uri, version=version, storage_options=opts)


def fingerprint(dt):
    """(schema, rows, content hash) of a DeltaTable's current snapshot."""
    import pyarrow as pa
    data = pa.table(dt.to_pyarrow_table())
    schema = [(f.name, str(f.type)) for f in data.schema]
    digests = sorted(hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).digest()
                     for row in data.to_pylist())
    h = hashlib.sha256()
    for d in digests:
        h.update(d)
    return schema, data.num_rows, h.hexdigest()[:16]


def check(storage, entry):
    out = {"table": entry["table"], "source": entry["source"], "source_version": entry["source_version"]}
    try:
        v = int(entry["source_version"])
        src = storage.open(entry["source_location"], version=v)
        dst = storage.open(entry["target_location"])
        s_schema, s_rows, s_hash = fingerprint(src)
        d_schema, d_rows, d_hash = fingerprint(dst)
    except Exception as e:      # noqa: BLE001 - a replica that cannot be read fails the check
        out.update(result="ERROR", error=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        return out
    out.update(prod_rows=s_rows, dr_rows=d_rows, prod_hash=s_hash, dr_hash=d_hash,
               dr_version=dst.version(), schema_equal=s_schema == d_schema)
    problems = []
    if s_schema != d_schema:
        problems.append("schema")
    if s_rows != d_rows:
        problems.append("rows")
    if s_hash != d_hash:
        problems.append("content")
    out["result"] = "equal" if not problems else "DIFFERENT (" + ", ".join(problems) + ")"
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="deltacheck", description=__doc__.split("\n\n")[0])
    ap.add_argument("manifest")
    ap.add_argument("--azurite", default=os.path.join(os.environ.get("DRHOST_SIM_DIR", "."), "azurite.json"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.manifest == "-":
        entries = json.load(sys.stdin)
    else:
        with open(args.manifest, encoding="utf-8") as f:
            entries = json.load(f)
    storage = Storage(args.azurite)
    results = [check(storage, e) for e in sorted(entries, key=lambda e: e["table"])]
    bad = [r for r in results if r["result"] != "equal"]
    if args.json:
        print(json.dumps({"tables": results, "equal": len(results) - len(bad), "different": len(bad)}))
    else:
        print(f"{'TABLE (dr)':<40} {'PROD@V':>7} {'ROWS prod/dr':>13} {'HASH prod':>16} {'HASH dr':>16}  RESULT")
        for r in results:
            rows = f"{r.get('prod_rows', '-')}/{r.get('dr_rows', '-')}"
            print(f"{r['table']:<40} {r['source_version']:>7} {rows:>13} {r.get('prod_hash', '-'):>16} "
                  f"{r.get('dr_hash', '-'):>16}  {r['result']}" + (f": {r['error']}" if "error" in r else ""))
        print(f"deltacheck: {len(results) - len(bad)} of {len(results)} replica(s) equal prod at the "
              "recorded version" + ("" if not bad else f"; {len(bad)} DIFFER"))
    return 1 if bad or not results else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The verdict is printed: leave without interpreter teardown, during which delta-rs's native
    # runtime was seen to abort (SIGABRT) after it had refused a corrupted Parquet file, turning
    # a clean "1: a replica differs" into a crash code.
    os._exit(code)
