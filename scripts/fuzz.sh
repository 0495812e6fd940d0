#!/usr/bin/env bash
# F1 (issue 6, docs/reliability.md): AFL++ over the parsers users and operators feed, through SharpFuzz.
#   scripts/fuzz.sh [SECONDS] [TARGET...]   default 60 s for every target (aicc-fuzz --list)
# Installs afl++ (Debian) and the SharpFuzz instrumenter (pinned) when missing, publishes
# fuzz/Aicc.Fuzz, instruments Aicc's own assemblies, runs afl-fuzz per target from fuzz/corpus/TARGET
# and copies every crashing input to fuzz/regressions/TARGET/, where FuzzRegressionTests replays it.
# Prints one JSON line per target and exits 1 when any target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${1:-60}
shift || true
work=${AICC_FUZZ_DIR:-/tmp/aicc-fuzz}
mkdir -p "$work/findings"

if ! command -v afl-fuzz >/dev/null 2>&1; then
  echo "fuzz: installing afl++ from Debian" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++) >/dev/null
fi
tools="$work/tools"
if [ ! -x "$tools/sharpfuzz" ]; then
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
fi

out="$work/publish"
rm -rf "$out"
dotnet publish fuzz/Aicc.Fuzz -c Release -o "$out" -v quiet -nologo >/dev/null
for dll in Aicc.Scheduling.dll Aicc.Simulation.dll Aicc.Server.dll aicc.dll; do
  "$tools/sharpfuzz" "$out/$dll" >/dev/null
done

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(dotnet "$out/Aicc.Fuzz.dll" --list)
fi

found_any=0
for target in "${targets[@]}"; do
  findings="$work/findings/$target"
  rm -rf "$findings"
  # No CPU frequency or core-dump tuning on a shared machine; a .NET start takes a while, hence -t.
  AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 \
    timeout $((seconds + 60)) afl-fuzz -V "$seconds" -t 10000 -m none -i "fuzz/corpus/$target" -o "$findings" \
    -- dotnet "$out/Aicc.Fuzz.dll" "$target" >"$work/$target.log" 2>&1 || true
  stats="$findings/default/fuzzer_stats"
  execs=$(awk -F: '/^execs_done/ {gsub(/ /, "", $2); print $2}' "$stats" 2>/dev/null || echo 0)
  paths=$(awk -F: '/^corpus_count/ {gsub(/ /, "", $2); print $2}' "$stats" 2>/dev/null || echo 0)
  crashes=0
  if [ -d "$findings/default/crashes" ]; then
    mkdir -p "fuzz/regressions/$target"
    for f in "$findings"/default/crashes/id:*; do
      [ -e "$f" ] || continue
      crashes=$((crashes + 1))
      cp "$f" "fuzz/regressions/$target/$(sha256sum "$f" | cut -c1-16)"
    done
  fi
  [ -n "$execs" ] || execs=0
  [ "$crashes" -eq 0 ] || found_any=1
  printf '{"test":"F1","target":"%s","figures":{"seconds":%s,"execs":%s,"corpus":%s,"crashes":%s},"pass":%s}\n' \
    "$target" "$seconds" "${execs:-0}" "${paths:-0}" "$crashes" "$([ "$crashes" -eq 0 ] && echo true || echo false)"
  if [ "${execs:-0}" = 0 ]; then
    echo "fuzz: $target ran no inputs; see $work/$target.log" >&2
    found_any=1
  fi
done
exit $found_any
