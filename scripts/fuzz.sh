#!/usr/bin/env bash
# F1 (issue 6, docs/reliability.md): AFL++ over the parsers users and operators feed, through SharpFuzz.
#   scripts/fuzz.sh [SECONDS] [TARGET...]   default 60 s for every target (aicc-fuzz --list)
# Installs afl++ (Debian) and the SharpFuzz instrumenter (pinned) when missing, publishes
# fuzz/Aicc.Fuzz, instruments Aicc's own assemblies, runs afl-fuzz per target from fuzz/corpus/TARGET
# and copies every crashing or hanging input to fuzz/regressions/TARGET/, where FuzzRegressionTests
# replays it. Prints one JSON line per target (also appended to $AICC_PROVE_OUT when set) and exits 1
# when any target found a crash or a hang, or ran no inputs.
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
# Our assemblies and the YAML parser under them (its states guide the YAML targets); not the framework.
for dll in Aicc.Scheduling.dll Aicc.Simulation.dll Aicc.Server.dll aicc.dll YamlDotNet.dll; do
  "$tools/sharpfuzz" "$out/$dll" >/dev/null
done

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(dotnet "$out/Aicc.Fuzz.dll" --list)
fi

# One value of afl-fuzz's fuzzer_stats ("execs_done        : 199951").
figure() { awk -F: -v k="$1" '$1 ~ "^"k" *$" {gsub(/[ %]/, "", $2); print $2}' "$stats" 2>/dev/null; }
dotnet=$(command -v dotnet)
found_any=0
for target in "${targets[@]}"; do
  findings="$work/findings/$target"
  rm -rf "$findings"
  # The instrumentation lives in the Aicc dlls, not in the dotnet host afl-fuzz starts, so its
  # binary check is skipped (SharpFuzz's README) and the host is given by its full path. No CPU
  # frequency, affinity or core-dump tuning on a shared machine. -t: an input normally takes
  # 0.1-1 ms; 5 s leaves room for the first JIT and a loaded machine, and is still a hang for a parser.
  AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 \
    timeout $((seconds + 120)) afl-fuzz -V "$seconds" -t 5000 -m none -i "fuzz/corpus/$target" -o "$findings" \
    -- "$dotnet" "$out/Aicc.Fuzz.dll" "$target" >"$work/$target.log" 2>&1 || true
  stats="$findings/default/fuzzer_stats"
  execs=$(figure execs_done) rate=$(figure execs_per_sec) corpus=$(figure corpus_count) seeds=$(find "fuzz/corpus/$target" -type f | wc -l)
  # Crashes and hangs are both bugs of a parser: each input goes to fuzz/regressions/TARGET, where
  # FuzzRegressionTests replays it (a hang there runs into the test's time limit).
  crashes=0 hangs=0
  for kind in crashes hangs; do
    for f in "$findings"/default/$kind/id:*; do
      [ -e "$f" ] || continue
      mkdir -p "fuzz/regressions/$target"
      cp "$f" "fuzz/regressions/$target/$(sha256sum "$f" | cut -c1-12)"
      if [ "$kind" = crashes ]; then crashes=$((crashes + 1)); else hangs=$((hangs + 1)); fi
    done
  done
  pass=true
  if [ "${execs:-0}" = 0 ]; then
    echo "fuzz: $target ran no inputs; see $work/$target.log" >&2
    pass=false
  fi
  [ "$crashes" -eq 0 ] && [ "$hangs" -eq 0 ] || pass=false
  [ "$pass" = true ] || found_any=1
  line=$(printf '{"test":"F1","target":"%s","figures":{"seconds":%s,"execs":%s,"execs_per_s":%s,"seeds":%s,"corpus":%s,"crashes":%s,"hangs":%s},"pass":%s}' \
    "$target" "$seconds" "${execs:-0}" "${rate:-0}" "$seeds" "${corpus:-0}" "$crashes" "$hangs" "$pass")
  echo "$line"
  if [ -n "${AICC_PROVE_OUT:-}" ]; then echo "$line" >>"$AICC_PROVE_OUT"; fi
done
exit $found_any
