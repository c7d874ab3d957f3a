#!/usr/bin/env bash
# The live fair-share measurement of docs/security.md ("Fair share, measured"): `laps up` with API keys for two
# tenants, a greedy one (a burst of requests at a high rate, up to --greedy-concurrency in flight) next to a polite one
# (about one request every 0.25 s, Poisson), once with --fair-share off and once on. Each tenant's `laps bench` report
# goes to docs/bench/tenants/live-<off|on>-<tenant>.json, the scheduler's per-tenant counters (with its steps,
# tokens and preemptions) to live-<off|on>-metrics.txt, and a table to docs/bench/tenants/live.md.
#   scripts/bench-tenants.sh [--trace FILE] [--seconds S] [--max-queued N] [--batch B] [--time-scale F]
# Needs the .NET SDK and jq. About 2 minutes on the loaded 2-core VM, the build included.
set -euo pipefail
cd "$(dirname "$0")/.."

trace=../shared/traces/specdecode-sharegpt.jsonl
seconds=15
max_queued=32
batch=4
time_scale=10
greedy_rate=50
greedy_concurrency=200
polite_rate=4
while [ $# -gt 0 ]; do
  case "$1" in
    --trace) trace=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --max-queued) max_queued=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --time-scale) time_scale=$2; shift 2 ;;
    *) echo "bench-tenants.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
command -v jq > /dev/null || { echo "bench-tenants.sh: needs jq" >&2; exit 2; }
[ -f "$trace" ] || { echo "bench-tenants.sh: no trace at '$trace' (--trace FILE)" >&2; exit 2; }

out=docs/bench/tenants
mkdir -p "$out"
dotnet build -c Release -v q -nologo src/Laps.Cli >&2
laps() { dotnet src/Laps.Cli/bin/Release/net10.0/laps.dll "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
greedy_key=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
polite_key=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s greedy\n%s polite\n' "$greedy_key" "$polite_key" > "$work/keys"

stop_job() { pkill -TERM -P "$1" 2> /dev/null || true; kill -TERM "$1" 2> /dev/null || true; wait "$1" || true; }

for fair in off on; do
  log="$work/up-$fair.log"
  laps up --port 0 --workers 1 --batch "$batch" --max-queued "$max_queued" --workload "$trace" --time-scale "$time_scale" \
    --api-key-file "$work/keys" --fair-share "$fair" > "$log" 2>&1 &
  up_pid=$!
  url=
  for _ in $(seq 1 300); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$log" | head -n 1 || true)
    if [ -n "$url" ] && curl -sf "${url}readyz" > /dev/null; then break; fi
    if ! kill -0 "$up_pid" 2> /dev/null; then cat "$log" >&2; exit 1; fi
    url=
    sleep 0.1
  done
  [ -n "$url" ] || { echo "bench-tenants.sh: laps up did not get ready" >&2; cat "$log" >&2; exit 1; }

  # Both for the same $seconds; bench exits 1 when some requests failed (the 429s are the point), so that is not an error.
  laps bench --target "$url" --workload "$trace" --api-key "$greedy_key" --rate "$greedy_rate" --requests $((greedy_rate * seconds)) \
    --concurrency-limit "$greedy_concurrency" --seed 1 --timeout 120 --json > "$out/live-$fair-greedy.json" || true &
  greedy_pid=$!
  laps bench --target "$url" --workload "$trace" --api-key "$polite_key" --rate "$polite_rate" --requests $((polite_rate * seconds)) \
    --seed 2 --timeout 120 --json > "$out/live-$fair-polite.json" || true
  wait "$greedy_pid"
  curl -sf "${url}metrics" | grep -E '^laps_(tenant_requests_total|preemptions_total|generated_tokens_total|worker_step_duration_seconds_(count|sum))' \
    > "$out/live-$fair-metrics.txt" || true
  stop_job "$up_pid"
done

{
  echo "| fair share | tenant | sent | completed | 429 | mean s | p99 s |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  for fair in off on; do
    for tenant in greedy polite; do
      jq -r --arg fair "$fair" --arg tenant "$tenant" \
        '"| \($fair) | \($tenant) | \(.requests) | \(.completed) | \(.error_kinds["http 429"] // 0) | \(.mean_latency_s // "-" | if type == "number" then (. * 100 | round / 100) else . end) | \(.p99_latency_s // "-" | if type == "number" then (. * 100 | round / 100) else . end) |"' \
        "$out/live-$fair-$tenant.json"
    done
  done
} > "$out/live.md"
cat "$out/live.md"
