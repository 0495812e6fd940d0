#!/usr/bin/env bash
# CI acceptance for the packing simulator (issue 8): the default and gpuspec33 openb pod lists (in
# gpuspec33 a third of the pods may use only some GPU models, which exercises aicc's ModelScarcity), all
# seven policies, seeds 42-51, against the authors' published 10-seed means. Fails when a baseline leaves
# its published mean by more than ±0.5 pt of allocation at 100% or 130% load or ±2 pt of fragmentation
# ratio at 90%, or when `aicc` falls below published FGD at either load. The issue asks for
# two seeds; ten cost little more and let the check use the issue's own tolerances, which two seeds'
# noise would break (docs/simulator.md). The +0.5 pt average gain over FGD is an average over all 13
# pod lists, so this two-list run reports it but does not judge it (scripts/reproduce-fgd.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
traces=${AICC_TRACES:-../shared/traces}
openb=$traces/alibaba-openb-gpu-v2023
expected=$traces/fgd-expected-results/fgd_summary.csv
if [ ! -f "$openb/openb_pod_list_default.csv" ] || [ ! -f "$openb/openb_pod_list_gpuspec33.csv" ] || [ ! -f "$expected" ]; then
  echo "error: traces not found under $traces (CI expects ../shared/traces beside the repository)" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
dotnet build src/Aicc -c Release --nologo -v quiet >/dev/null
start=$(date +%s)
src/Aicc/bin/Release/net10.0/aicc sim pack-compare \
  --nodes "$openb/openb_node_list_gpu_node.csv" --pods "$openb/openb_pod_list_default.csv" "$openb/openb_pod_list_gpuspec33.csv" \
  --policies random,dotprod,gpuclustering,gpupacking,bestfit,fgd,aicc \
  --expected "$expected" --seeds "${AICC_FGD_SEEDS:-42-51}" --out "$out" \
  --check --tolerance 0.5
echo "ci-fgd: $(( $(date +%s) - start )) s"
