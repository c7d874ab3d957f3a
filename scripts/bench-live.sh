#!/usr/bin/env bash
# The live benchmark of docs/benchmarks.md: every policy served by a real sidecar in front of a sim worker replaying a
# trace, at 0.85 of the FCFS capacity measured live, beside the simulator's prediction for the same requests, arrivals
# and predictor; then the sidecar's own cost per step and its streaming throughput. Raw JSON goes to docs/bench/live/,
# and the section between the "live" markers of docs/benchmarks.md is rewritten from it.
#   scripts/bench-live.sh [--trace FILE] [--requests N] [--time-scale F] [--batch B] [--load RHO] [--seed S]
#                         [--overhead-steps N] [--quick]
# Needs the .NET SDK and jq. About 13 minutes on the loaded 2-core VM, builds included (--quick: about 2 minutes, for trying the harness).
set -euo pipefail
cd "$(dirname "$0")/.."

trace=../shared/traces/specdecode-sharegpt.jsonl
requests=100
time_scale=4
batch=1
load=0.85
seed=1
overhead_steps=20000
policies=(fcfs mlfq sjf srpt laps)
while [ $# -gt 0 ]; do
  case "$1" in
    --trace) trace=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --time-scale) time_scale=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --overhead-steps) overhead_steps=$2; shift 2 ;;
    --quick) requests=60; time_scale=4; overhead_steps=3000; shift ;;
    *) echo "bench-live.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
command -v jq > /dev/null || { echo "bench-live.sh: needs jq" >&2; exit 2; }
[ -f "$trace" ] || { echo "bench-live.sh: no trace at '$trace' (--trace FILE)" >&2; exit 2; }

out=docs/bench/live
mkdir -p "$out"
started=$(date +%s)
dotnet build -c Release -v q -nologo src/Laps.Cli >&2
dotnet build -c Release -v q -nologo bench/Laps.Benchmarks >&2
laps() { dotnet src/Laps.Cli/bin/Release/net10.0/laps.dll "$@"; }

# Starts `laps up` (one sim worker unless $2 says otherwise) with policy $1; sets $up_pid and $url.
up() {
  local log
  log=$(mktemp)
  laps up --port 0 --workers "${2:-1}" --policy "$1" --batch "${3:-$batch}" --workload "$trace" \
    --time-scale "${4:-$time_scale}" --max-queued 100000 > "$log" 2>&1 &
  up_pid=$!
  url=
  for _ in $(seq 1 300); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$log" | head -n 1 || true)
    if [ -n "$url" ] && curl -sf "${url}readyz" > /dev/null; then rm -f "$log"; return; fi
    if ! kill -0 "$up_pid" 2> /dev/null; then cat "$log" >&2; exit 1; fi
    sleep 0.1
  done
  echo "bench-live.sh: laps up did not get ready" >&2; cat "$log" >&2; exit 1
}
# SIGTERM: a background job of a non-interactive shell ignores SIGINT.
down() { kill -TERM "$up_pid"; wait "$up_pid" || true; }

# Mean Step round trip the sidecar measured ($1: a /metrics scrape).
step_mean() {
  awk '/^laps_worker_step_duration_seconds_sum/ {s += $2} /^laps_worker_step_duration_seconds_count/ {c += $2}
       END {if (c > 0) printf "%.9f", s / c; else printf "null"}' "$1"
}

bench() { laps bench --target "$url" --workload "$trace" --requests "$requests" --seed "$seed" --max-tokens 8192 --json "$@"; }

# 1. FCFS capacity, live: every request sent at once; completions per second up to the 90th percentile one.
echo "capacity (fcfs, all $requests requests at once)..." >&2
up fcfs
bench --rate 100000 > "$out/capacity-fcfs.json"
steps=$(curl -sf "${url}metrics" | awk '/^laps_worker_step_duration_seconds_count/ {c += $2} END {print c}')
down
capacity=$(jq '.throughput_p90_rps' "$out/capacity-fcfs.json")
rate=$(jq -n "$load * $capacity")
echo "  capacity $capacity req/s; offered $rate req/s" >&2

# What serving adds per step: the worker is busy from the first request to the last completion, so the live step
# period is the run's duration over its steps; the simulator's FCFS run of the same burst gives the modelled step.
sim_dir=$(mktemp -d)
sim() {
  laps sim --workload "$trace" --batch "$batch" --requests "$requests" --seeds 1 --seed "$seed" --predictor online \
    --out "$sim_dir" --json "$@"
}
sim --rate 100000 --policies fcfs > "$out/sim-capacity.json"
model_step=$(jq '.runs[0].busy_s / .runs[0].steps' "$out/sim-capacity.json")
live_period=$(jq -n "$(jq .duration_s "$out/capacity-fcfs.json") / $steps")
step_overhead=$(jq -n "[($live_period * $time_scale) - $model_step, 0] | max")
echo "  step: live period $live_period s over $steps steps, modelled $model_step s / $time_scale; serving adds $step_overhead model s" >&2
jq --argjson steps "$steps" --argjson period "$live_period" --argjson model "$model_step" --argjson overhead "$step_overhead" \
  '. + {steps: $steps, live_step_period_s: $period, model_step_s: $model, step_overhead_model_s: $overhead}' \
  "$out/capacity-fcfs.json" > "$out/capacity-fcfs.json.tmp"
mv "$out/capacity-fcfs.json.tmp" "$out/capacity-fcfs.json"

# 2. Every policy at that rate: the same seed, so the same prompts and arrival times.
for policy in "${policies[@]}"; do
  echo "live $policy..." >&2
  up "$policy"
  bench --rate "$rate" > "$out/live-$policy.json"
  curl -sf "${url}metrics" > "$out/metrics-$policy.txt"
  jq --argjson step "$(step_mean "$out/metrics-$policy.txt")" --arg policy "$policy" \
    '. + {policy: $policy, mean_step_round_trip_s: $step}' "$out/live-$policy.json" > "$out/live-$policy.json.tmp"
  mv "$out/live-$policy.json.tmp" "$out/live-$policy.json"
  rm -f "$out/metrics-$policy.txt"
  down
done

# 3. The simulator's prediction: the same trace, requests, seed, batch and predictor, at the same rate in model time
#    (the sim worker runs time-scale times faster than the model, so a live second is time-scale model seconds).
#    Twice: the step model as it is, and with the per-step cost of serving measured above added to every step.
echo "simulator..." >&2
sim --rate "$(jq -n "$rate / $time_scale")" --policies "$(IFS=,; echo "${policies[*]}")" > "$out/sim.json"
sim --rate "$(jq -n "$rate / $time_scale")" --policies "$(IFS=,; echo "${policies[*]}")" --step-overhead "$step_overhead" \
  > "$out/sim-overhead.json"
rm -rf "$sim_dir"

# 4. The sidecar's own work per step: batch 32, 10,000 queued, an instant in-process worker.
echo "sidecar overhead per step..." >&2
dotnet bench/Laps.Benchmarks/bin/Release/net10.0/Laps.Benchmarks.dll --sidecar-overhead laps,fcfs,srpt,mlfq 32 10000 "$overhead_steps" \
  > "$out/overhead.json"

# 5. Tokens streamed per second: two sim workers 1000 times faster than real time, so the sidecar is the bottleneck.
echo "streaming throughput..." >&2
up laps 2 32 1000
laps bench --target "$url" --workload "$trace" --requests 400 --seed "$seed" --max-tokens 8192 --rate 100000 --json > "$out/stream.json"
down

elapsed=$(( $(date +%s) - started ))
jq -n --arg trace "$(basename "$trace")" --argjson requests "$requests" --argjson time_scale "$time_scale" \
  --argjson batch "$batch" --argjson load "$load" --argjson seed "$seed" --argjson capacity "$capacity" \
  --argjson rate "$rate" --argjson elapsed "$elapsed" --arg date "$(date -u +%Y-%m-%d)" \
  --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" --argjson cores "$(nproc)" \
  '{trace: $trace, requests: $requests, time_scale: $time_scale, batch: $batch, load: $load, seed: $seed,
    capacity_rps: $capacity, rate_rps: $rate, elapsed_s: $elapsed, date: $date, cpu: $cpu, cores: $cores}' > "$out/settings.json"

# The report: rewrite what lies between the markers in docs/benchmarks.md.
report=$(jq -rn --slurpfile settings "$out/settings.json" --slurpfile sim "$out/sim.json" \
  --slurpfile simo "$out/sim-overhead.json" --slurpfile capacity "$out/capacity-fcfs.json" \
  --slurpfile overhead "$out/overhead.json" --slurpfile stream "$out/stream.json" \
  --slurpfile live <(for p in "${policies[@]}"; do cat "$out/live-$p.json"; done) -f scripts/bench-live.jq)
REPORT=$report awk '
  /<!-- live:begin -->/ {print; print ENVIRON["REPORT"]; skip = 1; next}
  /<!-- live:end -->/ {skip = 0}
  !skip {print}' docs/benchmarks.md > docs/benchmarks.md.tmp
mv docs/benchmarks.md.tmp docs/benchmarks.md
echo "wrote $out/ and the live section of docs/benchmarks.md in ${elapsed} s" >&2
