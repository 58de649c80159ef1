#!/usr/bin/env bash
# Parses every PowerShell file in scripts/ plus the PowerShell that patchnight generates
# (collection exports, task registration) with tree-sitter; fails on ERROR or MISSING nodes.
set -euo pipefail
cd "$(dirname "$0")/.."
gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
files=(scripts/*.ps1)
for f in "$gen"/*.ps1; do [ -e "$f" ] && files+=("$f"); done
node .ci/pslint/lint.mjs "${files[@]}"
