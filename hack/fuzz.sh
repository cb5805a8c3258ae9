#!/bin/bash
# Runs every native Go fuzz target of the project for $FUZZTIME each (make
# test: 10s; make fuzz: 5m). Seed corpora live in each package's
# testdata/fuzz/<Target>; new crashers are written there, the inputs that
# widened coverage go to the fuzz cache ($(go env GOCACHE)/fuzz).
#
# Each package's test binary is built once, with the fuzzing
# instrumentation, and runs each of its targets from the package's
# directory. A short run (FUZZTIME of 30s or less) must fit make test: the
# targets share FUZZBUDGET seconds of fuzzing (default 100), so a growing
# number of targets shortens each one's run instead of the whole, and a new
# interesting input is minimised for at most 5s instead of 60.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
mkdir -p _out/fuzz-bin
fuzztime=${FUZZTIME:-10s}
budget=${FUZZBUDGET:-100}

# "<package dir> <target>" for every func Fuzz* outside testdata.
targets=$(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v -e '^./testdata/' -e '^./_out/' | while read -r f; do
	grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed "s|^func |$(dirname "$f") |"
done | sort -u)
n=$(echo "$targets" | grep -c .)

minimize=()
if [[ $fuzztime =~ ^([0-9]+)s$ ]] && ((BASH_REMATCH[1] <= 30)); then
	each=${BASH_REMATCH[1]}
	if ((n * each > budget)); then
		each=$((budget / n))
		((each < 2)) && each=2
	fi
	fuzztime=${each}s
	minimize=(-test.fuzzminimizetime=5s)
fi
echo "fuzz: $n targets, $fuzztime each"

module=$(go list -m)
status=0
start=$SECONDS
for dir in $(echo "$targets" | cut -d' ' -f1 | sort -u); do
	pkg=${dir#./}
	bin=$PWD/_out/fuzz-bin/$(echo "$pkg" | tr / -).test
	first=$(echo "$targets" | awk -v d="$dir" '$1 == d {print $2; exit}')
	if ! go test -c -fuzz="^${first}\$" -o "$bin" "$dir" >_out/fuzz-build.log 2>&1; then
		echo "fuzz: build $pkg failed"
		tail -30 _out/fuzz-build.log
		status=1
		continue
	fi
	for target in $(echo "$targets" | awk -v d="$dir" '$1 == d {print $2}'); do
		echo "fuzz: $target ($pkg, $fuzztime)"
		log=$PWD/_out/fuzz-$target.log
		corpus=$dir/testdata/fuzz/$target
		before=$(ls "$corpus" 2>/dev/null)
		(cd "$dir" && "$bin" -test.run='^$' -test.fuzz="^${target}\$" -test.fuzztime="$fuzztime" "${minimize[@]}" \
			-test.fuzzcachedir="$(go env GOCACHE)/fuzz/$module/$pkg") >"$log" 2>&1 && continue
		# Go 1.26's fuzz coordinator can fail a target with a bare "context
		# deadline exceeded" when -fuzztime ends while a worker is busy
		# (go.dev/issue/75804, fixed in Go 1.27): no crasher is written. Such
		# a run counts only after its whole corpus replays clean.
		if [[ $(ls "$corpus" 2>/dev/null) == "$before" ]] && tail -3 "$log" | grep -qx '    context deadline exceeded' &&
			(cd "$dir" && "$bin" -test.run="^${target}\$" >>"$log" 2>&1); then
			echo "fuzz: $target: the coordinator's deadline race (go.dev/issue/75804), no crasher; corpus replays clean"
			continue
		fi
		tail -30 "$log"
		status=1
	done
	rm -f "$bin"
done
echo "fuzz: done in $((SECONDS - start))s"
exit $status
