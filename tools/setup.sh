#!/usr/bin/env bash
# Installs everything drhost needs, idempotently: Debian packages, the simulator's Python
# environment (.venv, from sim's lock file) and Azurite (npm, pinned). Reruns are fast.
set -euo pipefail
cd "$(dirname "$0")/.."

want=()
while read -r pkg; do
  case "$pkg" in ''|'#'*) continue ;; esac
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || want+=("$pkg")
done < tools/apt-packages.txt
if [ ${#want[@]} -gt 0 ]; then
  echo "setup: installing ${want[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi

# The simulator's own environment (Python) and Azurite (Node), if that part is present.
if [ -x sim/setup.sh ]; then
  sim/setup.sh
fi
echo "setup: ok"
