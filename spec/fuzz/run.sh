#!/usr/bin/env bash
# Builds and runs every libFuzzer target spec/fuzz/fuzz_*.c for FUZZ_SECONDS (default 60) each.
# A target names the C files it needs on its first line:
#     // fuzz-sources: modules/http_parse.c modules/other.c
# modules/common/*.c are always linked in (with Lua 5.4, libcurl and OpenSSL). Seeds are read from
# spec/fuzz/corpus/NAME/ (optional); the growing corpus lives in build/fuzz/corpus/NAME and crash
# inputs in build/fuzz/artifacts/. Ends with "N passed, N failed" (one per target).
# Usage: spec/fuzz/run.sh [NAME...]   (NAME = fuzz_json, ...; default: all)
set -uo pipefail
cd "$(dirname "$0")/../.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
CLANG=${CLANG:-clang}
BUILD=${BUILD:-build}
out="$BUILD/fuzz"
mkdir -p "$out/artifacts" "$out/corpus"
pkgs="lua5.4 libcurl libssl libcrypto"
cflags="-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -fno-omit-frame-pointer -Imodules/common -Imodules -Ihost $(pkg-config --cflags $pkgs)"
libs="$(pkg-config --libs $pkgs) -lpthread -lm"
pass=0
fail=0
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in spec/fuzz/fuzz_*.c; do [ -e "$f" ] && targets+=("$(basename "$f" .c)"); done
fi
for name in "${targets[@]}"; do
  src="spec/fuzz/$name.c"
  if [ ! -f "$src" ]; then echo "fuzz $name: no such target $src"; fail=$((fail + 1)); continue; fi
  extra=$(head -n 1 "$src" | sed -nE 's#^//[[:space:]]*fuzz-sources:[[:space:]]*(.*)$#\1#p')
  # shellcheck disable=SC2086
  if ! $CLANG $cflags -o "$out/$name" "$src" $extra modules/common/*.c $libs 2> "$out/$name.build.log"; then
    echo "fuzz $name: BUILD FAILED"
    cat "$out/$name.build.log"
    fail=$((fail + 1))
    continue
  fi
  corpus="$out/corpus/$name"
  mkdir -p "$corpus"
  seeds=()
  [ -d "spec/fuzz/corpus/$name" ] && seeds=("spec/fuzz/corpus/$name")
  log="$out/$name.log"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$out/$name" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=1536 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$out/artifacts/$name-" "$corpus" "${seeds[@]}" > "$log" 2>&1
  rc=$?
  runs=$(sed -nE 's/^stat::number_of_executed_units:[[:space:]]*([0-9]+).*/\1/p' "$log" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz $name: ok (${runs:-?} runs in ${FUZZ_SECONDS}s, corpus $(ls "$corpus" | wc -l))"
    pass=$((pass + 1))
  else
    echo "fuzz $name: FAILED (exit $rc); crash input in $out/artifacts/"
    grep -E 'property failed|ERROR|SUMMARY|runtime error|==[0-9]+==' "$log" | head -n 20
    fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
