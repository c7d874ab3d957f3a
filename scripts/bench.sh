#!/usr/bin/env bash
# Runs the BenchmarkDotNet suites and copies their GitHub-flavoured reports into docs/bench/.
#   scripts/bench.sh [BenchmarkDotNet args, e.g. --filter '*Decision*']
set -euo pipefail
cd "$(dirname "$0")/.."
artifacts=$(mktemp -d)
if [ $# -eq 0 ]; then set -- --filter '*'; fi
dotnet run -c Release --project bench/Laps.Benchmarks -- --artifacts "$artifacts" "$@"
mkdir -p docs/bench
cp "$artifacts"/results/*-report-github.md docs/bench/
echo "reports copied to docs/bench/"
