#!/usr/bin/env bash
# http bench: N (default 1000) small GETs to the loopback test server (spec/support/testserver.py,
# plain HTTP/1.1 keep-alive), serial vs http.all with 16 in flight; requests/s, ratio, connections
# opened, and the RSS of the drhost process at the end; then the peak RSS of a fresh drhost holding 1, 8
# and 32 TLS connections (spec/support/testserver.py --tls, its CA in DRHOST_CA_BUNDLE). Prints a small table.
set -euo pipefail
cd "$(dirname "$0")/../.."
DRHOST=${DRHOST:-build/drhost}
N=${BENCH_HTTP_N:-1000}
[ -x "$DRHOST" ] || { echo "10-http: $DRHOST missing (make all)"; exit 1; }
exec "$DRHOST" tools/bench/http_bench.lua "$N"
