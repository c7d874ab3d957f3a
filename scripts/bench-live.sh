#!/usr/bin/env bash
# The live benchmark of docs/benchmarks.md: every policy served by a real sidecar in front of a sim worker replaying a
# trace, at 0.85 of the FCFS capacity measured live, beside the simulator's prediction for the same requests, arrivals
# and predictor; then the sidecar's own cost per step and its streaming throughput. Raw JSON goes to docs/bench/live/,
# and the section between the "live" markers of docs/benchmarks.md is rewritten from it.
#   scripts/bench-live.sh [--trace FILE] [--requests N] [--time-scale F] [--batch B] [--load RHO] [--seed S]
#                         [--overhead-steps N] [--quick] [--engine sim|vllm|sglang] [--policies a,b,c]
#                         [--engine-alone] [--alone-caps B,256] [--engine-load own|sim] [--reuse]
# --reuse: keep the capacity and live runs already in the output folder (a run cut short) and run only what is missing.
# Needs the .NET SDK and jq. About 13 minutes on the loaded 2-core VM, builds included (--quick: about 2 minutes, for trying the harness).
#
# Engines (docs/engines.md, "Measured"): --engine vllm|sglang runs every policy through `laps up --engine`, the adapter
# in front of an emulated engine whose batch cap is the pool's batch, and also through the sim path (--engine sim),
# each at the same load: 0.85 of its own FCFS capacity measured live (--engine-load own, the default; the adapter path
# has no round trip per engine step, so the same rate would be a lighter load there), or the adapter path at the sim
# path's rate (--engine-load sim). --engine-alone adds the engine by itself:
# the same requests, seed and rate as the adapter rows sent with `laps bench --target` straight to `laps emulate vllm` (FCFS continuous
# batching, no Laps), once per cap in --alone-caps ("B" = the pool's batch; 256 = vLLM's default --max-num-seqs for the
# OpenAI server, vllm/engine/arg_utils.py get_batch_defaults, 1024 on GPUs of 70 GiB or more other than A100s).
# Either writes its raw JSON to docs/bench/live-engines/<engine>-b<batch>/ and a table (report.md) there, spliced into
# docs/benchmarks.md between "<!-- engines-b<batch>:begin/end -->" markers where they exist; docs/bench/live/ and the
# "live" section stay the sim path's (--engine sim without --engine-alone), and the sidecar-overhead and streaming
# steps run only there.
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
engine=sim
engine_alone=0
alone_caps=B,256
reuse=0
engine_load=own
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
    --engine) engine=$2; shift 2 ;;
    --policies) IFS=, read -r -a policies <<< "$2"; shift 2 ;;
    --engine-alone) engine_alone=1; shift ;;
    --alone-caps) alone_caps=$2; shift 2 ;;
    --reuse) reuse=1; shift ;;
    --engine-load) engine_load=$2; shift 2 ;;
    *) echo "bench-live.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
command -v jq > /dev/null || { echo "bench-live.sh: needs jq" >&2; exit 2; }
[ -f "$trace" ] || { echo "bench-live.sh: no trace at '$trace' (--trace FILE)" >&2; exit 2; }

case "$engine" in sim|vllm|sglang) ;; *) echo "bench-live.sh: --engine must be sim, vllm or sglang" >&2; exit 2 ;; esac
case "$engine_load" in own|sim) ;; *) echo "bench-live.sh: --engine-load must be own or sim" >&2; exit 2 ;; esac
[ ${#policies[@]} -gt 0 ] || { echo "bench-live.sh: --policies is empty" >&2; exit 2; }
# The FCFS capacity run and "vs FCFS" need FCFS among the policies.
[[ " ${policies[*]} " == *" fcfs "* ]] || policies=(fcfs "${policies[@]}")
engines_mode=0
if [ "$engine" != sim ] || [ "$engine_alone" = 1 ]; then engines_mode=1; fi
if [ "$engines_mode" = 1 ]; then out=docs/bench/live-engines/$engine-b$batch; else out=docs/bench/live; fi
mkdir -p "$out"
started=$(date +%s)
dotnet build -c Release -v q -nologo src/Laps.Cli >&2
[ "$engines_mode" = 1 ] || dotnet build -c Release -v q -nologo bench/Laps.Benchmarks >&2
laps() { dotnet src/Laps.Cli/bin/Release/net10.0/laps.dll "$@"; }

# Starts `laps up` (one sim worker unless $2 says otherwise) with policy $1 (engine $5, default sim); sets $up_pid,
# $url and $worker (the worker's gRPC address).
up() {
  local log
  log=$(mktemp)
  laps up --engine "${5:-sim}" --port 0 --workers "${2:-1}" --policy "$1" --batch "${3:-$batch}" --workload "$trace" \
    --time-scale "${4:-$time_scale}" --max-queued 100000 > "$log" 2>&1 &
  up_pid=$!
  url=
  for _ in $(seq 1 300); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$log" | head -n 1 || true)
    if [ -n "$url" ] && curl -sf "${url}readyz" > /dev/null; then
      worker=$(grep -o 'workers at 127\.0\.0\.1:[0-9]*' "$log" | head -n 1 | sed 's/workers at //' || true)
      rm -f "$log"; return
    fi
    if ! kill -0 "$up_pid" 2> /dev/null; then cat "$log" >&2; exit 1; fi
    sleep 0.1
  done
  echo "bench-live.sh: laps up did not get ready" >&2; cat "$log" >&2; exit 1
}
# SIGTERM: a background job of a non-interactive shell ignores SIGINT.
# The dotnet process is the background job's child: signal it (by parent id) as well as the job.
down() { stop_job "$up_pid"; }
stop_job() { pkill -TERM -P "$1" 2> /dev/null || true; kill -TERM "$1" 2> /dev/null || true; wait "$1" || true; }

# The emulated engine's URL inside `laps up --engine` (it prints only the sidecar's and the worker's): the process that
# listens on the sidecar's port also listens on the emulator's, the one port that is neither. Empty when not found.
engine_url() {
  local port pid p
  port=${url##*:}; port=${port%/}
  pid=$(ss -ltnpH "sport = :$port" 2> /dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 || true)
  [ -n "$pid" ] || return 0
  for p in $(ss -ltnpH 2> /dev/null | grep "pid=$pid," | grep -o '127\.0\.0\.1:[0-9]*' | cut -d: -f2 || true); do
    if [ "$p" != "$port" ] && [ "127.0.0.1:$p" != "$worker" ]; then echo "http://127.0.0.1:$p/"; return 0; fi
  done
}
# A counter summed over its label sets ($1: a scrape, $2: the metric's name); null when absent.
counter() { awk -v m="$2" '$1 == m || index($1, m "{") == 1 {s += $2; n++} END {if (n) printf "%.0f", s; else printf "null"}' "$1"; }
# The prefix cache's hit ratio from a vLLM /metrics scrape ($1); null without queries.
prefix_ratio() {
  awk '/^vllm:prefix_cache_hits_total/ {h += $2} /^vllm:prefix_cache_queries_total/ {q += $2}
       END {if (q > 0) printf "%.6f", h / q; else printf "null"}' "$1"
}
# What the sidecar's and the engine's /metrics say about a run, merged into its bench JSON ($1: the JSON, $2: label,
# $3: the sidecar scrape or "", $4: the engine scrape or "").
annotate() {
  local file=$1 label=$2 side=${3:-} eng=${4:-} step=null pre=null mig=null fail=null ratio=null hits=null queries=null
  if [ -n "$side" ]; then
    step=$(step_mean "$side"); pre=$(counter "$side" laps_preemptions_total)
    mig=$(counter "$side" laps_migrated_requests_total); fail=$(counter "$side" laps_worker_step_failures_total)
  fi
  if [ -n "$eng" ] && [ -s "$eng" ]; then
    ratio=$(prefix_ratio "$eng"); hits=$(counter "$eng" vllm:prefix_cache_hits_total); queries=$(counter "$eng" vllm:prefix_cache_queries_total)
  fi
  jq --arg lbl "$label" --argjson step "$step" --argjson pre "$pre" --argjson mig "$mig" --argjson fail "$fail" \
    --argjson ratio "$ratio" --argjson hits "$hits" --argjson queries "$queries" --arg engine_metrics "${eng:+scraped}" \
    '. + {run: $lbl, mean_step_round_trip_s: $step, preemptions: $pre, migrated: $mig, step_failures: $fail,
          prefix_cache_hit_ratio: $ratio, prefix_cache_hits: $hits, prefix_cache_queries: $queries,
          engine_metrics: (if $engine_metrics == "" then "not reachable" else "scraped" end)}' "$file" > "$file.tmp"
  mv "$file.tmp" "$file"
}

# Mean Step round trip the sidecar measured ($1: a /metrics scrape).
step_mean() {
  awk '/^laps_worker_step_duration_seconds_sum/ {s += $2} /^laps_worker_step_duration_seconds_count/ {c += $2}
       END {if (c > 0) printf "%.9f", s / c; else printf "null"}' "$1"
}

# Exit status 1: some requests failed; the report (with them counted) is still written, and the table shows them.
bench() { laps bench --target "$url" --workload "$trace" --requests "$requests" --seed "$seed" --max-tokens 8192 --json "$@" || [ $? -eq 1 ]; }

# 1. FCFS capacity, live: every request sent at once; completions per second up to the 90th percentile one.
if [ "$reuse" = 1 ] && [ -s "$out/capacity-fcfs.json" ] && jq -e .steps "$out/capacity-fcfs.json" > /dev/null; then
  echo "capacity: reusing $out/capacity-fcfs.json" >&2
  steps=$(jq .steps "$out/capacity-fcfs.json")
else
echo "capacity (fcfs, all $requests requests at once)..." >&2
up fcfs
bench --rate 100000 > "$out/capacity-fcfs.json"
steps=$(curl -sf "${url}metrics" | awk '/^laps_worker_step_duration_seconds_count/ {c += $2} END {print c}')
down
fi
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

# 1b. The adapter path's own FCFS capacity (--engine-load own): its rows run at 0.85 of it.
engine_capacity=$capacity
engine_rate=$rate
if [ "$engine" != sim ] && [ "$engine_load" = own ]; then
  if [ "$reuse" = 1 ] && [ -s "$out/capacity-$engine-fcfs.json" ]; then
    echo "capacity through the $engine adapter: reusing $out/capacity-$engine-fcfs.json" >&2
  else
    echo "capacity through the $engine adapter (fcfs, all $requests requests at once)..." >&2
    up fcfs 1 "$batch" "$time_scale" "$engine"
    bench --rate 100000 > "$out/capacity-$engine-fcfs.json"
    down
  fi
  engine_capacity=$(jq '.throughput_p90_rps' "$out/capacity-$engine-fcfs.json")
  engine_rate=$(jq -n "$load * $engine_capacity")
  echo "  $engine adapter capacity $engine_capacity req/s; offered $engine_rate req/s" >&2
fi

# 2. Every policy at that rate: the same seed, so the same prompts and arrival times.
#    In engines mode, first through the sim path, then through the engine adapter (the same rate).
live_engines=(sim)
if [ "$engine" != sim ]; then live_engines=(sim "$engine"); fi
if [ "$engines_mode" = 1 ] && [ "$engine" = sim ]; then live_engines=(sim); fi
for eng in "${live_engines[@]}"; do
  for policy in "${policies[@]}"; do
    name=live-$policy
    [ "$engines_mode" = 1 ] && name=live-$eng-$policy
    if [ "$reuse" = 1 ] && [ -s "$out/$name.json" ] && jq -e .engine "$out/$name.json" > /dev/null 2>&1; then
      echo "live $eng $policy: reusing $out/$name.json" >&2; continue
    fi
    echo "live $eng $policy..." >&2
    up "$policy" 1 "$batch" "$time_scale" "$eng"
    emu=
    [ "$eng" = vllm ] && emu=$(engine_url)
    eng_rate=$rate
    [ "$eng" = sim ] || eng_rate=$engine_rate
    bench --rate "$eng_rate" > "$out/$name.json"
    curl -sf "${url}metrics" > "$out/metrics-$name.txt"
    : > "$out/engine-$name.txt"
    [ -n "$emu" ] && { curl -sf "${emu}metrics" > "$out/engine-$name.txt" || true; }
    annotate "$out/$name.json" "$eng" "$out/metrics-$name.txt" "$([ "$eng" = sim ] || echo "$out/engine-$name.txt")"
    jq --arg policy "$policy" --arg engine "$eng" --arg emu "${emu:-}" \
      '. + {policy: $policy, engine: $engine} + (if $engine == "sim" then {engine_metrics: "none (sim worker)"} elif $emu == "" then {engine_metrics: "not reachable"} else {} end)' \
      "$out/$name.json" > "$out/$name.json.tmp"
    mv "$out/$name.json.tmp" "$out/$name.json"
    rm -f "$out/metrics-$name.txt" "$out/engine-$name.txt"
    down
  done
done

# 2b. The engine alone: the same requests, seed and rate straight to `laps emulate vllm`, its own FCFS continuous
#     batching at each cap of --alone-caps; no sidecar, so no Laps metrics and no preemptions (the emulator has no KV
#     limit, so it never preempts).
if [ "$engine_alone" = 1 ]; then
  IFS=, read -r -a caps <<< "$alone_caps"
  for cap in "${caps[@]}"; do
    [ "$cap" = B ] && cap=$batch
    if [ "$reuse" = 1 ] && [ -s "$out/alone-vllm-cap$cap.json" ] && jq -e .cap "$out/alone-vllm-cap$cap.json" > /dev/null 2>&1; then
      echo "engine alone, cap $cap: reusing $out/alone-vllm-cap$cap.json" >&2; continue
    fi
    echo "engine alone, vllm cap $cap..." >&2
    log=$(mktemp)
    laps emulate vllm --port 0 --batch "$cap" --workload "$trace" --time-scale "$time_scale" > "$log" 2>&1 &
    emu_pid=$!
    emu=
    for _ in $(seq 1 300); do
      emu=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$log" | head -n 1 || true)
      if [ -n "$emu" ] && curl -sf "${emu}health" > /dev/null; then break; fi
      if ! kill -0 "$emu_pid" 2> /dev/null; then cat "$log" >&2; exit 1; fi
      emu=; sleep 0.1
    done
    [ -n "$emu" ] || { echo "bench-live.sh: laps emulate did not get ready" >&2; cat "$log" >&2; exit 1; }
    rm -f "$log"
    model=$(curl -sf "${emu}v1/models" | jq -r '.data[0].id')
    laps bench --target "$emu" --model "$model" --workload "$trace" --requests "$requests" --seed "$seed" \
      --max-tokens 8192 --json --rate "$engine_rate" > "$out/alone-vllm-cap$cap.json" || [ $? -eq 1 ]
    curl -sf "${emu}metrics" > "$out/engine-alone.txt" || : > "$out/engine-alone.txt"
    annotate "$out/alone-vllm-cap$cap.json" "alone" "" "$out/engine-alone.txt"
    jq --argjson cap "$cap" '. + {policy: "vllm-alone", engine: "vllm-alone", cap: $cap, preemptions: 0}' \
      "$out/alone-vllm-cap$cap.json" > "$out/alone.tmp"
    mv "$out/alone.tmp" "$out/alone-vllm-cap$cap.json"
    rm -f "$out/engine-alone.txt"
    stop_job "$emu_pid"
  done
fi

# 3. The simulator's prediction: the same trace, requests, seed, batch and predictor, at the same rate in model time
#    (the sim worker runs time-scale times faster than the model, so a live second is time-scale model seconds).
#    Twice: the step model as it is, and with the per-step cost of serving measured above added to every step.
echo "simulator..." >&2
sim --rate "$(jq -n "$rate / $time_scale")" --policies "$(IFS=,; echo "${policies[*]}")" > "$out/sim.json"
sim --rate "$(jq -n "$rate / $time_scale")" --policies "$(IFS=,; echo "${policies[*]}")" --step-overhead "$step_overhead" \
  > "$out/sim-overhead.json"
# The engine adapter resumes a preempted sequence by recomputing its prompt + generated tokens (its prefix cache
# serves what it still holds), where a sim worker keeps the KV: in engines mode, a third prediction with --resume recompute.
# Both at the adapter rows' rate.
if [ "$engines_mode" = 1 ]; then
  sim --rate "$(jq -n "$engine_rate / $time_scale")" --policies "$(IFS=,; echo "${policies[*]}")" > "$out/sim-engine.json"
  sim --rate "$(jq -n "$engine_rate / $time_scale")" --policies "$(IFS=,; echo "${policies[*]}")" --resume recompute > "$out/sim-recompute.json"
fi
rm -rf "$sim_dir"

if [ "$engines_mode" = 1 ]; then
  elapsed=$(( $(date +%s) - started ))
  jq -n --arg trace "$(basename "$trace")" --argjson requests "$requests" --argjson time_scale "$time_scale" \
    --argjson batch "$batch" --argjson load "$load" --argjson seed "$seed" --argjson capacity "$capacity" \
    --argjson rate "$rate" --argjson engine_capacity "$engine_capacity" --argjson engine_rate "$engine_rate" \
    --arg engine_load "$engine_load" --argjson elapsed "$elapsed" --arg date "$(date -u +%Y-%m-%d)" --arg engine "$engine" \
    --arg caps "$alone_caps" --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
    --argjson cores "$(nproc)" --arg load_avg "$(cut -d' ' -f1-3 /proc/loadavg)" \
    '{trace: $trace, requests: $requests, time_scale: $time_scale, batch: $batch, load: $load, seed: $seed,
      capacity_rps: $capacity, rate_rps: $rate, engine_capacity_rps: $engine_capacity, engine_rate_rps: $engine_rate,
      engine_load: $engine_load, elapsed_s: $elapsed, date: $date, cpu: $cpu, cores: $cores,
      engine: $engine, alone_caps: $caps, load_average_at_end: $load_avg}' > "$out/settings.json"
  report=$(jq -rn --slurpfile settings "$out/settings.json" --slurpfile sim "$out/sim.json" \
    --slurpfile simo "$out/sim-overhead.json" --slurpfile capacity "$out/capacity-fcfs.json" \
    --slurpfile simr "$out/sim-recompute.json" --slurpfile sime "$out/sim-engine.json" --slurpfile live <(cat "$out"/live-*.json) \
    --slurpfile alone <(cat "$out"/alone-*.json 2> /dev/null || true) -f scripts/bench-engines.jq)
  printf '%s\n' "$report" > "$out/report.md"
  if grep -q "<!-- engines-b$batch:begin -->" docs/benchmarks.md; then
    REPORT=$report B=$batch awk '
      $0 == "<!-- engines-b" ENVIRON["B"] ":begin -->" {print; print ENVIRON["REPORT"]; skip = 1; next}
      $0 == "<!-- engines-b" ENVIRON["B"] ":end -->" {skip = 0}
      !skip {print}' docs/benchmarks.md > docs/benchmarks.md.tmp
    mv docs/benchmarks.md.tmp docs/benchmarks.md
  fi
  echo "wrote $out/ in ${elapsed} s" >&2
  exit 0
fi

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
