#!/usr/bin/env bash
# Issue 7 acceptance: starts the single-host, four-node Slurm 22.05 of scripts/slurm-dev.sh (installs
# the Debian packages the first time), runs the Slurm contract tests against it with the real
# `aicc server --executor slurm`, prints their figures, and stops the daemons it started.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "ci-slurm: needs root to start munged, slurmctld and slurmd (scripts/slurm-dev.sh)" >&2
  exit 1
fi

out=$(bash scripts/slurm-dev.sh up)
export AICC_SLURM_URL AICC_SLURM_USER AICC_SLURM_TOKEN_FILE
AICC_SLURM_URL=$(sed -n 's/^AICC_SLURM_URL=//p' <<<"$out")
AICC_SLURM_USER=$(sed -n 's/^AICC_SLURM_USER=//p' <<<"$out")
AICC_SLURM_TOKEN_FILE=$(sed -n 's/^AICC_SLURM_TOKEN_FILE=//p' <<<"$out")
trap 'bash scripts/slurm-dev.sh down || true' EXIT

figures=$(mktemp)
export AICC_PROVE_OUT="$figures"
dotnet format tests/Aicc.Slurm.Tests/Aicc.Slurm.Tests.csproj --verify-no-changes
set +e
timeout 1200 dotnet test tests/Aicc.Slurm.Tests
rc=$?
set -e
cat "$figures"
rm -f "$figures"
exit $rc
