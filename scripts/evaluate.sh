#!/usr/bin/env bash
# Regenerates docs/evaluation.md (and docs/evaluation/runs.csv) from the real traces.
#   scripts/evaluate.sh [--traces ../shared/traces] [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet run -c Release --project tools/Laps.Evaluation -- --out docs "$@"
