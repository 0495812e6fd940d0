#!/usr/bin/env bash
# Starts a throw-away aicc server on a free loopback port, runs the examples through the CLI, stops it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dotnet build "$root/src/Aicc" -c Release -v q >/dev/null
aicc() { AICC_CONFIG="$dir/cli.json" dotnet "$root/src/Aicc/bin/Release/net10.0/aicc.dll" "$@"; }
aicc server --urls "http://127.0.0.1:$port" --data-dir "$dir/data" >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
aicc login --server "http://127.0.0.1:$port" --token "$(cat "$dir/data/admin-token")"
for example in one-gpu fractional gang-2x4; do
  id=$(aicc job submit -f "$root/examples/$example.yaml" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  aicc job logs -f "$id"
done
aicc job list
aicc usage
