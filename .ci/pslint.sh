#!/usr/bin/env bash
# Parses every PowerShell file in scripts/ plus the PowerShell that patchnight generates
# (the task registration script; collection exports) with tree-sitter; fails on ERROR or
# MISSING nodes.
set -euo pipefail
cd "$(dirname "$0")/.."
gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
go build -o "$gen/patchnight" ./cmd/patchnight
"$gen/patchnight" plan export-tasks --out "$gen/tasks" >/dev/null
"$gen/patchnight" plan export-tasks --out "$gen/tasks-gmsa" --run-as 'CONTOSO\svc-patch$' --month 2026-12 >/dev/null
"$gen/patchnight" plan export-tasks --out "$gen/tasks-user" --run-as 'CONTOSO\patchadmin' >/dev/null
files=(scripts/*.ps1 "$gen"/tasks*/*.ps1)
if "$gen/patchnight" collections export --help >/dev/null 2>&1; then
  "$gen/patchnight" collections export --format ps1 > "$gen/collections.ps1"
  files+=("$gen/collections.ps1")
fi
node .ci/pslint/lint.mjs "${files[@]}"
