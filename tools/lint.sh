#!/usr/bin/env bash
# Static analysis: cppcheck and clang-tidy over the C in host/, modules/ and spec/fuzz/, luacheck
# over the Lua (modules/, scripts/, env/, spec/ outside sim). Exit 1 when any finds something.
#   tools/lint.sh            everything
#   tools/lint.sh FILE...    only these files (C or Lua)
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
incs="-Ihost -Imodules/common -Imodules -Ibuild/gen $(pkg-config --cflags lua5.4 libcurl libssl libcrypto libedit)"
if [ $# -gt 0 ]; then
  cfiles=(); luafiles=()
  for f in "$@"; do case "$f" in *.c|*.h) cfiles+=("$f") ;; *.lua) luafiles+=("$f") ;; esac; done
else
  mapfile -t cfiles < <(ls host/*.c modules/*.c modules/common/*.c spec/fuzz/*.c 2>/dev/null)
  mapfile -t luafiles < <(ls modules/*.lua host/lua/*.lua env/*.lua tools/suites/*.lua .busted 2>/dev/null;
    find scripts spec -name '*.lua' -not -path '*/node_modules/*' 2>/dev/null | sort)
fi
make -s build/gen/preload.c build/gen/version.h >/dev/null 2>&1 || true

if [ ${#cfiles[@]} -gt 0 ]; then
  echo "== cppcheck (${#cfiles[@]} files)"
  # shellcheck disable=SC2086
  if ! cppcheck --quiet --std=c11 --enable=warning,performance,portability --error-exitcode=1 \
      --inline-suppr --suppress=missingIncludeSystem -D_GNU_SOURCE -Ihost -Imodules/common -Imodules \
      "${cfiles[@]}"; then
    status=1
  fi
  echo "== clang-tidy"
  for f in "${cfiles[@]}"; do
    extra=""
    case "$f" in spec/fuzz/*) extra="-fsanitize=fuzzer" ;; esac
    # shellcheck disable=SC2086
    if ! out=$(clang-tidy --quiet "$f" -- -std=c11 -D_GNU_SOURCE $incs $extra 2>&1); then
      echo "$out" | grep -vE '^[0-9]+ warnings? (and [0-9]+ errors? )?generated'; status=1
    elif grep -qE 'warning:|error:' <<<"$out"; then
      echo "$out" | grep -vE '^[0-9]+ warnings? generated'; status=1
    fi
  done
fi
if [ ${#luafiles[@]} -gt 0 ]; then
  echo "== luacheck (${#luafiles[@]} files)"
  luacheck --no-color --codes -q "${luafiles[@]}" || status=1
fi
[ "$status" -eq 0 ] && echo "lint: clean" || echo "lint: findings above"
exit "$status"
