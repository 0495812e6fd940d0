#!/usr/bin/env bash
# Planner acceptance (docs/planner.md): the repository's example, a week of the Philly trace grown 50 %
# for a year, and an SLO no mix can meet. Checks that every plan that claims the SLO measured it within
# the limit, that the files are written, and that the unreachable SLO ends with exit 8 inside its bound.
# Release build; well under a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
traces=""
for candidate in "${AICC_TRACES:-}" "$root/../shared/traces" "$root/../../shared/traces"; do
  if [ -n "$candidate" ] && [ -f "$candidate/philly-jobs-pollux/philly.csv" ]; then traces=$candidate; break; fi
done
if [ -z "$traces" ]; then
  echo "ci-plan: no traces at ../shared/traces (set AICC_TRACES)" >&2
  exit 1
fi

dotnet build src/Aicc -c Release -v quiet -nologo >/dev/null
aicc=src/Aicc/bin/Release/net10.0/aicc
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

check() {
  python3 - "$1" "$2" <<'PY'
import json, os, sys
d = sys.argv[1]; want_met = sys.argv[2] == "met"
p = json.load(open(os.path.join(d, "plan.json")))
problems = []
for f in ("plan.md", "plan.json", "cost-vs-slo.png"):
    if not os.path.getsize(os.path.join(d, f)): problems.append(f"{f} is empty")
if p["slo_met"] != want_met: problems.append(f"slo_met {p['slo_met']}, expected {want_met}")
t = p["training"]
if want_met:
    for s in t["searches"]:
        if not s["met"]: continue
        chosen = [r for r in s["replays"] if r["servers"] == s["servers"]][0]
        if not chosen["met"]: problems.append(f"{s['server_type']}: chosen count does not meet the SLO")
if p["totals"]["gpus"] <= 0: problems.append("no GPUs in the plan")
print(f"{p['name']}: {t['servers']} x {t['server_type']}, measured {t['measured_text']}, {p['totals']['gpus']} GPUs, "
      f"capex {p['cost']['capex']:,.0f}, {p['replays']} replays in {p['wall_s']} s")
if problems:
    print("FAILED: " + "; ".join(problems)); sys.exit(1)
PY
}

"$aicc" plan --demand examples/plan/demand.yaml --catalog examples/plan/catalog.yaml --out "$out/example" >/dev/null
check "$out/example" met

cat > "$out/philly.yaml" <<YAML
name: philly-week
horizon_years: 1
slo: avg-queue<=30m
policy: sjf-oracle
training:
  models: [H100, H200, A100, MI300X, L40S]
  traces:
    - {path: $traces/philly-jobs-pollux/philly.csv, reference_model: V100, start_day: 14, days: 7, growth_per_year: 0.5}
YAML
cat > "$out/philly-catalog.yaml" <<'YAML'
servers:
  - {name: 8xV100-legacy, accelerator: V100, accelerators: 8, scu: 0.45, tflops: 125, price: 60000, power_kw: 3.5, rack_units: 4}
YAML
"$aicc" plan --demand "$out/philly.yaml" --catalog "$out/philly-catalog.yaml" --out "$out/philly" >/dev/null
check "$out/philly" met

set +e
"$aicc" plan --demand examples/plan/demand.yaml --slo "avg-jct-ratio<=0.9" --max-servers 64 --out "$out/unmet" >/dev/null 2>&1
rc=$?
set -e
if [ "$rc" -ne 8 ]; then echo "FAILED: unreachable SLO exited $rc, expected 8" >&2; exit 1; fi
check "$out/unmet" unmet
echo "ci-plan: ok"
