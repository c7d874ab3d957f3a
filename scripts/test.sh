#!/usr/bin/env bash
# The test command: installs what the suites need (scripts/install-tools.sh: helm, kubectl, node, yamllint, promtool,
# prometheus; about a second when they are already there), builds the solution, then runs every test project. Extra arguments go to
# `dotnet test` (e.g. --filter). Needs the .NET 10 SDK. Exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v dotnet > /dev/null || { echo "test.sh: the .NET 10 SDK is required (dotnet is not on PATH)" >&2; exit 1; }
scripts/install-tools.sh
# The whole solution first: `dotnet test` builds only the test projects and what they reference, not the benchmarks.
dotnet build Operator.sln
dotnet test Operator.sln --no-build "$@"
