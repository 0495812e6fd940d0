#!/usr/bin/env bash
# The prove suites of issue 6 (docs/reliability.md): crash, model-based (R2), fault, isolation and
# hostile-input tests.
#   scripts/prove.sh            the quick profile (the one `dotnet test Aicc.slnx` and .ci/run also run)
#   scripts/prove.sh --full     the long profile (more jobs, kills and locks) and F1: 60 s of AFL++
#                               per fuzz target (scripts/fuzz.sh; installs afl++ when missing)
#   scripts/prove.sh --update-docs [--full]   also rewrite the figures table in docs/reliability.md
# Prints one JSON line per suite and exits non-zero when any suite fails. Loopback only; every suite
# is bounded in count and time.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=quick update=0
for arg in "$@"; do
  case "$arg" in
    --full) profile=full ;;
    --update-docs) update=1 ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) echo "prove.sh: unknown option '$arg' (use --full, --update-docs)" >&2; exit 2 ;;
  esac
done

out=$(mktemp)
trap 'rm -f "$out"' EXIT
export AICC_PROVE_PROFILE=$profile AICC_PROVE_OUT=$out
rc=0
dotnet build Aicc.slnx -v quiet -nologo >/dev/null
dotnet test Aicc.slnx --no-build --filter "FullyQualifiedName~.Prove." || rc=$?
if [ "$profile" = full ]; then
  bash scripts/fuzz.sh 60 || rc=$?
fi
echo
echo "== prove ($profile profile)"
cat "$out"
if [ "$update" = 1 ]; then
  python3 scripts/prove-table.py "$out" docs/reliability.md "$profile"
fi
exit $rc
