#!/usr/bin/env bash
# The project's test command: installs the real servers the integration
# tests need (scripts/install-test-deps.sh), then runs go vet and
# go test -race in every module of the repository (the core, and each
# directory with its own go.mod: compat, asynchttpotel, asynchttpprom,
# asynchttpredis, bench, ...). Extra arguments go to go test, e.g.
#   bash scripts/test.sh -count=1
# It goes on after a failing module and exits non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

failed=()
while IFS= read -r mod; do
	dir=$(dirname "$mod")
	echo "== module ${dir#./}"
	# GOWORK=off: each module builds as its users get it, through its own
	# go.mod and replace directives (go.work is for running the CLI).
	if ! (cd "$dir" && GOWORK=off go vet ./... && GOWORK=off go test -race "$@" ./...); then
		failed+=("$dir")
	fi
done < <(find . -name go.mod -not -path './.git/*' -not -path '*/testdata/*' | sort)

if [ ${#failed[@]} -gt 0 ]; then
	echo "FAILED modules: ${failed[*]}" >&2
	exit 1
fi
echo "all modules passed"
