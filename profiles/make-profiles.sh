#!/usr/bin/env bash
# make-profiles.sh: the fixed workload behind the profiles in profiles/.
# `make profile` builds bin/powchain and runs it; see profiles/README.md.
#
#   1. For every kernel this CPU runs: powchain mine examples/block.json at
#      difficulty 6 (nonce 73,890,081: the same 73.9M hashes for every
#      kernel) with one worker per CPU, under --cpuprofile
#      -> mine-KERNEL.pprof; the auto kernel's run also writes
#      --memprofile -> mine-auto.mem.pprof. Timings go to mine.txt.
#   2. A short bench run (difficulties 1-5, every kernel, 1 worker and one
#      per CPU, 3 blocks a cell, 1s throughput cells) under --cpuprofile
#      -> bench.pprof, with its table, JSON and chart (bench.txt,
#      bench.json, bench.svg).
#   3. The top of each profile, printed as a check: the SHA-256 kernel
#      should lead every mine profile.
#   4. Only with PGO_EVAL=1 (about 6 more minutes): profile-guided
#      optimization evaluated with these profiles. The CPU profiles are
#      merged into one, the hasher and bench benchmarks are built with
#      -pgo=off and with -pgo=MERGED, run interleaved PGO_COUNT times
#      (default 6) and compared with benchstat -> pgo-benchstat.txt.
#
# Environment: POWCHAIN (binary, default bin/powchain, built if missing),
# DIFFICULTY (default 6), WORKERS (default: the CPU count), PGO_EVAL,
# PGO_COUNT, BENCHSTAT (default: benchstat on the PATH, else go run).
set -euo pipefail
cd "$(dirname "$0")/.."

POWCHAIN=${POWCHAIN:-bin/powchain}
DIFFICULTY=${DIFFICULTY:-6}
WORKERS=${WORKERS:-$(getconf _NPROCESSORS_ONLN)}
OUT=profiles
BLOCK=examples/block.json

if [ ! -x "$POWCHAIN" ]; then
  go build -o "$POWCHAIN" ./cmd/powchain
fi

kernels=$("$POWCHAIN" cpu | awk '$2 == "available" { print $1 }')
auto=$("$POWCHAIN" cpu | awk '$1 == "auto:" { print $2 }')

{
  echo "# powchain mine $BLOCK --difficulty $DIFFICULTY --workers $WORKERS, one run per kernel"
  "$POWCHAIN" version
  "$POWCHAIN" cpu | head -2
} >"$OUT/mine.txt"

for k in $kernels; do
  echo "profiles: mining with $k" >&2
  extra=()
  if [ "$k" = "$auto" ]; then
    extra=(--memprofile "$OUT/mine-auto.mem.pprof")
  fi
  "$POWCHAIN" mine --difficulty "$DIFFICULTY" --hasher "$k" --workers "$WORKERS" --progress never \
    --cpuprofile "$OUT/mine-$k.pprof" "${extra[@]}" "$BLOCK" 2>>"$OUT/mine.txt" >/dev/null
done

echo "profiles: bench run" >&2
"$POWCHAIN" bench --difficulties 1-5 --hashers all --workers "1,$WORKERS" --blocks 3 \
  --rate-time 1s --progress never \
  --cpuprofile "$OUT/bench.pprof" --json "$OUT/bench.json" --svg "$OUT/bench.svg" >"$OUT/bench.txt"

echo >&2
for f in "$OUT"/mine-*.pprof "$OUT/bench.pprof"; do
  case "$f" in *.mem.pprof) continue ;; esac
  echo "== go tool pprof -top $f (first lines)" >&2
  go tool pprof -top -nodecount=4 "$f" 2>/dev/null | sed -n '/flat%/,$p' >&2
done

if [ "${PGO_EVAL:-0}" = 1 ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cpu_profiles=$(ls "$OUT"/mine-*.pprof "$OUT/bench.pprof" | grep -v '\.mem\.pprof$')
  # shellcheck disable=SC2086
  go tool pprof -proto $cpu_profiles >"$tmp/merged.pgo" 2>/dev/null
  for v in off on; do
    pgo=off
    [ "$v" = on ] && pgo="$tmp/merged.pgo"
    go test -c -pgo="$pgo" -o "$tmp/hasher.$v" ./hasher
    go test -c -pgo="$pgo" -o "$tmp/bench.$v" ./bench
  done
  echo "profiles: PGO evaluation, ${PGO_COUNT:-6} interleaved rounds" >&2
  for _ in $(seq "${PGO_COUNT:-6}"); do
    for v in off on; do
      "$tmp/hasher.$v" -test.run '^$' -test.bench 'Search//txs=1$' -test.benchmem >>"$tmp/$v.txt"
      "$tmp/bench.$v" -test.run '^$' -test.bench 'Mine/.*/workers=1/txs=1/difficulty=4$' -test.benchmem >>"$tmp/$v.txt"
    done
  done
  benchstat=${BENCHSTAT:-$(command -v benchstat || echo "go run golang.org/x/perf/cmd/benchstat@latest")}
  {
    echo "# PGO evaluation, $(date -u +%Y-%m-%d): the benchmarks built with -pgo=off (off.txt) and with"
    echo "# -pgo=(profiles/mine-*.pprof and bench.pprof merged) (on.txt), interleaved ${PGO_COUNT:-6} times."
    echo "# Made by PGO_EVAL=1 profiles/make-profiles.sh; see profiles/README.md."
    echo
    (cd "$tmp" && $benchstat off.txt on.txt)
  } >"$OUT/pgo-benchstat.txt"
  grep geomean "$OUT/pgo-benchstat.txt" >&2 || true
fi
