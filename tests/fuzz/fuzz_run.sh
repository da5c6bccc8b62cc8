#!/bin/bash
# fuzz_run.sh SECONDS BIN...: run libFuzzer harnesses (`make fuzz`, a
# build configured with --enable-fuzzing) for SECONDS each, on a copy of
# the seed corpus from make_corpus.sh. One line per harness:
#
#   fuzz: NAME runs=N result=ok|CRASH
#
# Exit 0 when every harness ran its time without a crash, leak, timeout or
# out-of-memory; 1 otherwise (the crashing input is kept under
# $FUZZ_ARTIFACT_DIR, default ./fuzz-artifacts); 2 for usage errors.
set -u

if [ $# -lt 2 ] || ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
	echo "usage: $0 SECONDS BIN..." >&2
	exit 2
fi
secs=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
artifacts=${FUZZ_ARTIFACT_DIR:-$PWD/fuzz-artifacts}
work=$(mktemp -d "${TMPDIR:-/tmp}/trasa-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

for bin in "$@"; do
	if [ ! -x "$bin" ]; then
		echo "fuzz_run: $bin: not an executable" >&2
		exit 2
	fi
	# A libFuzzer binary lists its flags; the standalone driver refuses.
	if ! "$bin" -help=1 2>&1 | grep -q max_total_time; then
		echo "fuzz_run: $bin is not a libFuzzer build" \
		    "(configure with CC=clang --enable-fuzzing)" >&2
		exit 2
	fi
done

if ! bash "$here/make_corpus.sh" "$work/seeds" >"$work/corpus.log" 2>&1; then
	echo "fuzz_run: could not make the seed corpus:" >&2
	cat "$work/corpus.log" >&2
	exit 1
fi
mkdir -p "$artifacts"

fail=0
for bin in "$@"; do
	name=$(basename "$bin")
	name=${name#fuzz_}
	corpus=$work/corpus-$name
	mkdir -p "$corpus"
	if [ -d "$work/seeds/$name" ]; then
		cp -R "$work/seeds/$name/." "$corpus/"
	fi
	log=$work/$name.log
	"$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 \
	    -print_final_stats=1 -artifact_prefix="$artifacts/$name-" \
	    "$corpus" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' \
	    "$log" | tail -n 1)
	if [ -z "$runs" ]; then
		runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
	fi
	if [ $rc -eq 0 ]; then
		result=ok
	else
		result=CRASH
		fail=1
	fi
	echo "fuzz: $name runs=${runs:-0} result=$result"
	if [ $rc -ne 0 ]; then
		echo "--- $name (exit $rc): the libFuzzer report" >&2
		if grep -q 'ERROR: ' "$log"; then
			sed -n '/ERROR: /,$p' "$log" | head -n 80 >&2
		else
			tail -n 30 "$log" >&2
		fi
		echo "--- artifacts in $artifacts" >&2
	fi
done
rmdir "$artifacts" 2>/dev/null || true
exit $fail
