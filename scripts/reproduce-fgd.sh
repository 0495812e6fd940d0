#!/usr/bin/env bash
# Reproduces the FGD packing comparison (Weng et al., ATC'23) on the openb traces: every pod list that
# has published results × the six baselines and aicc × seeds 42-51, through the real scheduling core.
# Writes DIR/report.md, results.csv, results.json and one plot per pod list (default DIR: fgd-report).
# Usage: scripts/reproduce-fgd.sh [DIR] [SEEDS]     Traces: ../shared/traces beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-fgd-report}
seeds=${2:-42-51}
traces=${AICC_TRACES:-../shared/traces}
openb=$traces/alibaba-openb-gpu-v2023
expected=$traces/fgd-expected-results/fgd_summary.csv
for f in "$openb/openb_node_list_gpu_node.csv" "$expected"; do
  [ -f "$f" ] || { echo "error: $f not found (set AICC_TRACES to the traces directory)" >&2; exit 2; }
done

# The pod lists the published summary covers, in its order.
mapfile -t workloads < <(tail -n +2 "$expected" | cut -d, -f1 | awk '!seen[$0]++')
pods=()
for w in "${workloads[@]}"; do
  [ -f "$openb/$w.csv" ] && pods+=("$openb/$w.csv")
done

dotnet build src/Aicc -c Release --nologo -v quiet >/dev/null
/usr/bin/time -v src/Aicc/bin/Release/net10.0/aicc sim pack-compare \
  --nodes "$openb/openb_node_list_gpu_node.csv" --pods "${pods[@]}" \
  --policies random,dotprod,gpuclustering,gpupacking,bestfit,fgd,aicc \
  --expected "$expected" --seeds "$seeds" --out "$out" 2> >(grep -E 'Elapsed|Maximum resident' >&2)
