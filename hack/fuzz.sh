#!/bin/bash
# Runs every native Go fuzz target of the project for $FUZZTIME each (make
# test: 10s; make fuzz: 5m). Seed corpora live in each package's
# testdata/fuzz; new crashers are written there by go test.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
mkdir -p _out
fuzztime=${FUZZTIME:-10s}
status=0
while read -r pkg target; do
	echo "fuzz: $target ($pkg, $fuzztime)"
	go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg" >_out/fuzz-"$target".log 2>&1 || {
		tail -30 _out/fuzz-"$target".log
		status=1
	}
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./testdata/' | while read -r f; do
	pkg=./$(dirname "${f#./}")
	grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r t; do echo "$pkg $t"; done
done | sort -u)
exit $status
