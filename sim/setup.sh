#!/usr/bin/env bash
# The simulator's environment, idempotent and fast on rerun:
#  - <repo>/.venv with uv, synced to sim/requirements.lock (skipped when the lock is unchanged)
#  - Azurite (pinned in package.json / package-lock.json) in sim/node_modules via `npm ci`
set -euo pipefail
SIM_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SIM_DIR/.." && pwd)"
VENV="$ROOT/.venv"
UV_VERSION=0.13.9
PYTHON=${PYTHON:-python3}

lock_hash() { sha256sum "$1" | cut -d' ' -f1; }

# A venv left half-made by an earlier failed run (no pip, no uv) is made again.
if [ -x "$VENV/bin/python" ] && [ ! -x "$VENV/bin/uv" ] && ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  echo "sim setup: $VENV is incomplete; recreating it"
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "sim setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.drsim-lock.sha256"
want=$(lock_hash "$SIM_DIR/requirements.lock")
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  if [ ! -x "$VENV/bin/uv" ] || [ "$("$VENV/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    "$VENV/bin/python" -m pip install -q "uv==$UV_VERSION"
  fi
  echo "sim setup: syncing Python packages from requirements.lock"
  "$VENV/bin/uv" pip sync -q --python "$VENV/bin/python" --require-hashes "$SIM_DIR/requirements.lock"
  echo "$want" > "$stamp"
fi

# Azurite (Node 20). Install Debian's nodejs/npm if node is missing.
if ! command -v npm >/dev/null 2>&1; then
  echo "sim setup: installing nodejs and npm (Debian)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
nstamp="$SIM_DIR/node_modules/.drsim-lock.sha256"
nwant=$(lock_hash "$SIM_DIR/package-lock.json")
if [ ! -x "$SIM_DIR/node_modules/.bin/azurite-blob" ] || [ ! -f "$nstamp" ] || [ "$(cat "$nstamp")" != "$nwant" ]; then
  echo "sim setup: installing Azurite (npm ci)"
  (cd "$SIM_DIR" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
  echo "$nwant" > "$nstamp"
fi
echo "sim setup: ok"
