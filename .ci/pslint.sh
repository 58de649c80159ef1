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
# Collection exports need a site database: a small lab, its software update group (the lab's
# group for Patch Tuesday 2026-12-08 is titled "Patch Tuesday 2026-12"), every family.
"$gen/patchnight" lab init --db "$gen/lab.db" --hosts 200 --seed 1 --patch-tuesday 2026-12-08 >/dev/null
"$gen/patchnight" collections export --format ps1 --sql "sqlite:$gen/lab.db" --group 'Patch Tuesday 2026-12' --month 2026-12 > "$gen/collections.ps1"
files+=("$gen/collections.ps1")
# The end-to-end test exports after collections apply against a lab site; parse that too.
mkdir "$gen/e2e"
if ! out=$(PATCHNIGHT_PSLINT_DIR="$gen/e2e" go test -vet=off -count=1 -run '^TestE2ECollections$' ./cmd/patchnight 2>&1); then
  echo "$out"
  exit 1
fi
files+=("$gen"/e2e/*.ps1)
# The scripts as they travel: each with the shared libraries it uses inserted.
mkdir "$gen/composed"
PATCHNIGHT_PSLINT_DIR="$gen/composed" go test -count=1 -run '^(TestSharedLibraries|TestNoticeLauncher)$' ./scripts >/dev/null
files+=("$gen"/composed/*.ps1)
node .ci/pslint/lint.mjs "${files[@]}"
