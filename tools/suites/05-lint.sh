#!/usr/bin/env bash
# Static checks as one test: cppcheck, clang-tidy (C) and luacheck (Lua) must all be clean.
set -uo pipefail
cd "$(dirname "$0")/../.."
if tools/lint.sh; then
  echo "1 passed, 0 failed"
else
  echo "lint: findings above"
  echo "0 passed, 1 failed"
  exit 1
fi
