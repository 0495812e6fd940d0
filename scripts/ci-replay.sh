#!/usr/bin/env bash
# Reduced Philly replay (the first 3,000 arrivals) through the real scheduling core: checks that every
# job finishes, that average JCT is never below the zero-queueing lower bound nor below the capacity and
# busy time bounds (--tight-bound; docs/replay.md), and the invariants
# (no job starts before it arrives, never more GPUs in use than exist: the replay exits 1 and counts
# them in invariant_violations). Release build; about a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
traces=""
for candidate in "${AICC_TRACES:-}" "$root/../shared/traces" "$root/../../shared/traces"; do
  if [ -n "$candidate" ] && [ -f "$candidate/philly-jobs-pollux/philly.csv" ]; then traces=$candidate; break; fi
done
if [ -z "$traces" ]; then
  echo "ci-replay: no traces at ../shared/traces (set AICC_TRACES)" >&2
  exit 1
fi

dotnet build src/Aicc -c Release -v quiet -nologo >/dev/null
aicc=src/Aicc/bin/Release/net10.0/aicc
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for policy in fifo sjf-oracle las drf quota; do
  "$aicc" sim replay --trace "$traces/philly-jobs-pollux/philly.csv" --jobs 3000 --load 0.8 \
    --policy "$policy" --no-private --tight-bound --json "$out/$policy.json" >/dev/null
  python3 - "$out/$policy.json" "$policy" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); p = sys.argv[2]
problems = []
if r["jobs"] != 3000: problems.append(f"jobs {r['jobs']} != 3000")
if r["finished"] != r["jobs"]: problems.append(f"only {r['finished']} of {r['jobs']} finished")
if r["invariant_violations"] != 0: problems.append(f"{r['invariant_violations']} invariant violations")
if r["avg_jct_s"] + 1e-6 < r["jct_lower_bound_s"]: problems.append(f"avg JCT {r['avg_jct_s']} below the lower bound {r['jct_lower_bound_s']}")
for key in ("jct_capacity_bound_s", "jct_busy_time_bound_s"):
    if r[key] is None or r[key] + 1e-6 < r["jct_lower_bound_s"]: problems.append(f"{key} {r[key]} missing or below the mean duration")
    elif r["avg_jct_s"] + 1 < r[key]: problems.append(f"avg JCT {r['avg_jct_s']} below {key} {r[key]}: a bound is wrong")
if not 0 < r["gpu_util_pct"] <= 100: problems.append(f"utilisation {r['gpu_util_pct']}% out of range")
print(f"{p}: avg JCT {r['avg_jct_s']} s (lower bound {r['jct_lower_bound_s']} s, busy time bound {r['jct_busy_time_bound_s']} s), avg queue {r['avg_queue_s']} s, util {r['gpu_util_pct']}%, wall {r['wall_s']} s")
if problems:
    print(f"FAILED {p}: " + "; ".join(problems)); sys.exit(1)
PY
done
echo "ci-replay: ok"
