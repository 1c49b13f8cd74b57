#!/bin/sh
# run.sh: runs each libFuzzer target of tests/fuzz/ for a while, one after
# the other (a single job each), and prints what each did.
#
#   sh tests/fuzz/run.sh DIR SECONDS TARGET...
#
# DIR holds the binaries (DIR/fuzz_TARGET) and the seed corpus
# (DIR/corpus/TARGET, from make_corpus).  New inputs a run finds go to
# DIR/work/TARGET (kept from run to run, so that later runs start from
# what earlier ones found), crashes, leaks and timeouts to
# DIR/artifacts/TARGET/, the full output to DIR/logs/TARGET.log; scratch
# files to a directory of their own in /dev/shm, removed at the end.
# Per target it prints the executions, the rate, the coverage (edges) and
# features of libFuzzer's final stats, the corpus size and the seed to
# replay the run with (-seed=N).  Exits 1 when any target found a crash, a
# leak, a timeout or an out-of-memory (its output's tail is shown), else 0.
set -u
dir=$1
secs=$2
shift 2

# The targets' scratch files, in memory when /dev/shm is there; removed
# at the end with whatever a crashed target left behind.
shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
STRATA_FUZZ_TMPDIR=$(mktemp -d "$shm/strata-fuzz.XXXXXX") || exit 1
export STRATA_FUZZ_TMPDIR
trap 'rm -rf "$STRATA_FUZZ_TMPDIR"' EXIT

failed=""
printf '%-13s %10s %8s %6s %7s %6s %11s  %s\n' target execs exec/s cov ft corpus seed result
for t in "$@"; do
    mkdir -p "$dir/work/$t" "$dir/artifacts/$t" "$dir/logs"
    log="$dir/logs/$t.log"
    rm -f "$dir/artifacts/$t"/crash-* "$dir/artifacts/$t"/leak-* \
        "$dir/artifacts/$t"/timeout-* "$dir/artifacts/$t"/oom-*
    # -timeout: an input taking 10 s is a hang; -rss_limit_mb: the
    # machines are small.  Artifacts keep libFuzzer's names (crash-<sha1>).
    "$dir/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$dir/artifacts/$t/" \
        "$dir/work/$t" "$dir/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    seed=$(sed -n 's/^INFO: Seed: *//p' "$log" | head -n 1)
    # The last status line: "#N <event> cov: C ft: F corp: U/S ...".
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
    cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
    found=$(ls "$dir/artifacts/$t" 2>/dev/null | grep -E '^(crash|leak|timeout|oom)-' | head -n 1)
    if [ "$rc" -eq 0 ] && [ -z "$found" ]; then
        result=ok
    else
        result="FAILED (exit $rc${found:+, $dir/artifacts/$t/$found})"
        failed="$failed $t"
    fi
    printf '%-13s %10s %8s %6s %7s %6s %11s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
        "${ft:-?}" "${corp:-?}" "${seed:-?}" "$result"
done
if [ -n "$failed" ]; then
    for t in $failed; do
        printf '\n==== %s: the end of %s ====\n' "$t" "$dir/logs/$t.log"
        tail -n 40 "$dir/logs/$t.log"
    done
    printf '\nfuzz: FAILED:%s (replay: %s/fuzz_TARGET ARTIFACT)\n' "$failed" "$dir"
    exit 1
fi
echo "fuzz: ok ($secs s per target)"
