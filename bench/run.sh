#!/bin/sh
# Runs the side-by-side benchmark from anywhere: ./bench/run.sh [-quick] [flags]
# Writes bench/RESULTS.md, bench/results.svg and bench/results.json.
set -e
cd "$(dirname "$0")"
exec go run ./cmd/bench "$@"
