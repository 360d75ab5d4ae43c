#!/usr/bin/env bash
# tools/with-sim.sh CMD [ARGS...]: start the simulator and Azurite on free loopback ports, export
# their environment, run CMD, stop them (also on failure or interrupt), exit with CMD's status.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ $# -eq 0 ]; then
  echo "usage: tools/with-sim.sh CMD [ARGS...]" >&2
  exit 2
fi
envfile=$(mktemp)
cleanup() {
  "$ROOT/sim/bin/sim-down" --env-file "$envfile" >/dev/null 2>&1 || true
  rm -f "$envfile"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if ! "$ROOT/sim/bin/sim-up" --env-file "$envfile" >/dev/null; then
  echo "with-sim: the simulator did not start" >&2
  exit 1
fi
# shellcheck disable=SC1090
. "$envfile"
"$@"
rc=$?
exit $rc
