#!/usr/bin/env bash
# valgrind (memcheck, full leak check) on a representative run of build/drhost:
# tools/suites/representative.lua exercising json, crypto (with a throwaway RSA key), log, errors,
# the REPL printer and http against the loopback test server (spec/support) when present.
# Counts as one test.
set -uo pipefail
cd "$(dirname "$0")/../.."
DRHOST=${DRHOST:-build/drhost}
if ! command -v valgrind >/dev/null; then echo "valgrind not installed"; echo "0 passed, 1 failed"; exit 1; fi
make -s all >/dev/null || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d)
srv_pid=
cleanup() { [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/k.pem" -out "$tmp/c.pem" -days 1 \
  -subj /CN=drhost-valgrind >/dev/null 2>&1 && cat "$tmp/c.pem" "$tmp/k.pem" > "$tmp/kc.pem" &&
  export DRHOST_TEST_KEY="$tmp/kc.pem"
if [ -f spec/support/testserver.py ]; then
  python3 spec/support/testserver.py --tls > "$tmp/server.out" 2>"$tmp/server.err" &
  srv_pid=$!
  for _ in $(seq 1 50); do [ -s "$tmp/server.out" ] && break; sleep 0.1; done
  line=$(head -n 1 "$tmp/server.out")
  port=$(sed -nE 's/.*"port": ([0-9]+).*/\1/p' <<<"$line")
  ca=$(sed -nE 's/.*"ca": "([^"]+)".*/\1/p' <<<"$line")
  closed=$(sed -nE 's/.*"closed_port": ([0-9]+).*/\1/p' <<<"$line")
  if [ -n "$port" ]; then
    export DRHOST_TEST_URL="https://127.0.0.1:$port" DRHOST_CA_BUNDLE="$ca" DRHOST_TEST_CLOSED_PORT="$closed"
    echo "valgrind: http against the loopback server on port $port"
  else
    echo "valgrind: test server did not start; http part skipped"
  fi
fi
valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect --track-origins=yes --quiet \
  "$DRHOST" tools/suites/representative.lua > "$tmp/out" 2> "$tmp/err"
rc=$?
cat "$tmp/out"
grep -v '^ts=' "$tmp/err" | head -n 200
if [ "$rc" -eq 0 ] && grep -q "representative run ok" "$tmp/out"; then
  echo "valgrind: clean"
  echo "1 passed, 0 failed"
else
  echo "valgrind: exit $rc (99 = memcheck errors or leaks)"
  echo "0 passed, 1 failed"
  exit 1
fi
