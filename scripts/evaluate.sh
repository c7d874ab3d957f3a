#!/usr/bin/env bash
# Regenerates docs/evaluation.md, docs/evaluation/runs.csv and the plots in docs/evaluation/plots.
#   scripts/evaluate.sh [--traces DIR] [--quick]   (DIR: the SpecDecode-Bench and Azure traces, docs/workloads.md)
set -euo pipefail
cd "$(dirname "$0")/.."
traces=../shared/traces
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "--traces" ]; then traces=${args[$((i + 1))]}; fi
done
dotnet run -c Release --project tools/Laps.Evaluation -- --out docs "$@"
# The plots: every policy on the ShareGPT trace across loads, batch 1 and 8.
dotnet run -c Release --project src/Laps.Cli -- sim --workload "$traces/specdecode-sharegpt.jsonl" \
  --load 0.5,0.7,0.85,0.95 --batch 1,8 --out docs/evaluation/plots > /dev/null
rm -f docs/evaluation/plots/results.csv docs/evaluation/plots/results.json
