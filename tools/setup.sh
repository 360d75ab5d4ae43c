#!/usr/bin/env bash
# Installs everything drhost needs, idempotently: Debian packages, the simulator's Python
# environment (.venv, from sim's lock file), Azurite (npm, pinned) and actionlint (Go, pinned,
# into .cache/tools/bin; Debian's golang-go where the machine has no Go). Reruns are fast.
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
# actionlint, the GitHub Actions workflow linter (tools/suites/25-cicd.sh), built from source
# with the Go toolchain on the machine; where there is none, Debian's golang-go (1.19 on
# Debian 12, enough for this version, whose go.mod asks for 1.18) is installed first. Without
# either, it is skipped with a warning, and the suite then says so.
ACTIONLINT_VERSION=1.7.7
ACTIONLINT=.cache/tools/bin/actionlint
if ! { [ -x "$ACTIONLINT" ] && [ "$("$ACTIONLINT" -version 2>/dev/null | head -n 1)" = "v$ACTIONLINT_VERSION" ]; }; then
  GO=$(command -v go || true)
  [ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
  if [ -z "$GO" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing golang-go (Debian), to build actionlint"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends golang-go >/dev/null
    GO=$(command -v go || true)
  fi
  if [ -n "$GO" ]; then
    echo "setup: building actionlint v$ACTIONLINT_VERSION"
    mkdir -p .cache/tools/bin
    GOBIN="$PWD/.cache/tools/bin" GOFLAGS=-modcacherw "$GO" install \
      "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
  else
    echo "setup: warning: no Go toolchain: actionlint not installed" >&2
  fi
fi
echo "setup: ok"
