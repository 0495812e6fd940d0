#!/usr/bin/env bash
# CI acceptance for the packing simulator (a few minutes on 2 cores): the default openb pod list,
# seeds 42-43, all seven policies, against the published FGD results. Fails when a baseline leaves the
# published 10-seed mean by more than its allowance, or aicc falls below FGD or beats it by less than
# 0.5 points on average. Two seeds are noisier than ten, hence ±0.6 (fragmentation ±2 for every baseline).
set -euo pipefail
cd "$(dirname "$0")/.."
traces=${AICC_TRACES:-../shared/traces}
openb=$traces/alibaba-openb-gpu-v2023
expected=$traces/fgd-expected-results/fgd_summary.csv
if [ ! -f "$openb/openb_pod_list_default.csv" ] || [ ! -f "$expected" ]; then
  echo "error: traces not found under $traces (CI expects ../shared/traces beside the repository)" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
dotnet build src/Aicc -c Release --nologo -v quiet >/dev/null
start=$(date +%s)
src/Aicc/bin/Release/net10.0/aicc sim pack-compare \
  --nodes "$openb/openb_node_list_gpu_node.csv" --pods "$openb/openb_pod_list_default.csv" \
  --policies random,dotprod,gpuclustering,gpupacking,bestfit,fgd,aicc \
  --expected "$expected" --seeds 42-43 --out "$out" \
  --check --tolerance 0.6
echo "check-fgd: $(( $(date +%s) - start )) s"
