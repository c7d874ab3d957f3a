#!/usr/bin/env bash
# The test command: installs what the suites need (scripts/install-tools.sh: helm, kubectl, node, yamllint, promtool,
# prometheus; about a second when they are already there), then runs every test project. Extra arguments go to
# `dotnet test` (e.g. --filter). Needs the .NET 10 SDK. Exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v dotnet > /dev/null || { echo "test.sh: the .NET 10 SDK is required (dotnet is not on PATH)" >&2; exit 1; }
scripts/install-tools.sh
dotnet test Operator.sln "$@"
