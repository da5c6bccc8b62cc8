#!/bin/bash
# fuzz_regress.sh (make check): replay a fresh seed corpus through every
# fuzz harness in $top_builddir/tests/fuzz/, then a deterministic stream
# of FUZZ_MUTATIONS (default 2000) mutations of each seed; a fifth of that
# for private keys, where OpenSSL's PEM decoder alone costs about a
# millisecond a call. Any crash, sanitizer report or failed invariant (the
# harnesses abort()) fails.
#
# With a standalone build the harness does the mutating (--mutate); with
# a libFuzzer build (--enable-fuzzing) libFuzzer does, for as many runs.
set -u

: "${top_srcdir:?top_srcdir is not set}"
: "${top_builddir:?top_builddir is not set}"
mutations=${FUZZ_MUTATIONS:-2000}
seed=${FUZZ_SEED:-1}
bindir=$top_builddir/tests/fuzz
if ! [[ $mutations =~ ^[0-9]+$ && $seed =~ ^[0-9]+$ ]]; then
	echo "FAIL: FUZZ_MUTATIONS and FUZZ_SEED must be numbers" >&2
	exit 1
fi
harnesses="pubkey cert krl privkey api conf"

work=$(mktemp -d "${TMPDIR:-/tmp}/trasa-fuzzreg.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

for name in $harnesses; do
	if [ ! -x "$bindir/fuzz_$name" ]; then
		echo "FAIL: $bindir/fuzz_$name is not built" >&2
		exit 1
	fi
done

if ! bash "$top_srcdir/tests/fuzz/make_corpus.sh" "$work/seeds" \
    >"$work/corpus.log" 2>&1; then
	echo "FAIL: make_corpus.sh" >&2
	cat "$work/corpus.log" >&2
	exit 1
fi

# run NAME: one harness over its seeds; prints its verdict line.
run() {
	local name=$1 bin=$bindir/fuzz_$1 seeds=$work/seeds/$1 log rc n art
	local muts=$mutations
	[ "$name" = privkey ] && muts=$(((mutations + 4) / 5))
	log=$work/$name.log
	art=$work/artifacts-$name
	mkdir -p "$art" "$work/new-$name"
	n=$(find "$seeds" -type f | wc -l)
	if [ "$n" -eq 0 ]; then
		echo "FAIL: $name: no seeds" >"$work/$name.verdict"
		return
	fi
	if "$bin" -help=1 2>&1 | grep -q max_total_time; then
		# libFuzzer: replay, then mutate from the seeds (new units go
		# to the first, scratch, directory).
		"$bin" -runs=0 -artifact_prefix="$art/" "$seeds" >"$log" 2>&1 &&
		    "$bin" -seed="$seed" -runs=$((n * muts)) \
		    -rss_limit_mb=2048 -timeout=20 -artifact_prefix="$art/" \
		    "$work/new-$name" "$seeds" >>"$log" 2>&1
		rc=$?
	else
		FUZZ_ARTIFACT_DIR=$art "$bin" --mutate "$muts" \
		    --seed "$seed" "$seeds" >"$log" 2>&1
		rc=$?
	fi
	if [ $rc -eq 0 ]; then
		echo "ok: $name: $n seeds, $(tail -n 1 "$log")" \
		    >"$work/$name.verdict"
	else
		{
			echo "FAIL: $name (exit $rc)"
			tail -n 30 "$log"
			for f in "$art"/*; do
				[ -f "$f" ] || continue
				echo "--- crashing input $(basename "$f")" \
				    "($(wc -c <"$f") bytes, base64, first 4 KiB):"
				head -c 4096 "$f" | base64 -w 76
			done
		} >"$work/$name.verdict"
	fi
}

# Two at a time (the machines we run on have two cores).
pids=()
for name in $harnesses; do
	run "$name" 2>/dev/null &
	pids+=($!)
	if [ ${#pids[@]} -ge "${FUZZ_JOBS:-2}" ]; then
		wait "${pids[0]}"
		pids=("${pids[@]:1}")
	fi
done
wait

fail=0
for name in $harnesses; do
	if [ ! -f "$work/$name.verdict" ]; then
		echo "FAIL: $name: no result" >&2
		fail=1
		continue
	fi
	cat "$work/$name.verdict"
	grep -q '^ok:' "$work/$name.verdict" || fail=1
done
exit $fail
