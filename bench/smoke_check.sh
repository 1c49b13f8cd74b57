#!/bin/sh
# smoke_check.sh: checks db_bench's output for `make bench-smoke` (CI).
#   smoke_check.sh W1,W2,...         stdin is db_bench's stdout: every workload Wi
#                                    printed a well-formed result line, in order
#   smoke_check.sh --rate W1,W2,...  the same, and each has latency and rate lines
#   smoke_check.sh --csv             stdin is a --report_file: header and rows parse
#   smoke_check.sh --wamp W1,W2,...  every workload Wi printed a write amp figure (a number)
# Every mode but --csv also checks that each "write amp" line is well-formed.
set -eu

fail() { echo "smoke_check: $*" >&2; exit 1; }

if [ "${1:-}" = "--csv" ]; then
    awk -F, '
        NR == 1 { if ($0 != "elapsed_s,ops_per_s,p99_us,cumulative_ops,workload") bad = "header: " $0; next }
        NF != 5 || $1 !~ /^[0-9]+\.[0-9]+$/ || $2 !~ /^[0-9]+$/ || ($3 != "" && $3 !~ /^[0-9]+\.[0-9]+$/) || $4 !~ /^[0-9]+$/ || $5 == "" { bad = "row " NR ": " $0 }
        END { if (bad) { print "smoke_check: bad CSV " bad > "/dev/stderr"; exit 1 }
              if (NR < 3) { print "smoke_check: CSV has " NR - 1 " rows" > "/dev/stderr"; exit 1 } }'
    exit 0
fi

rate=0 wamp=0
if [ "${1:-}" = "--rate" ]; then rate=1; shift; fi
if [ "${1:-}" = "--wamp" ]; then wamp=1; shift; fi
[ $# -eq 1 ] || fail "usage: smoke_check.sh [--rate|--wamp] W1,W2,... < output"

out=$(cat)
num='[0-9]+(\.[0-9]+)?'

# "write amp 3.41: 1.2 MB written to tables / 0.4 MB flushed, during this workload",
# with "+-E" after the ratio and the MB where the engine rounds them, or
# "write amp n/a: why".
mb="$num([+]-$num)? MB"
bad=$(printf '%s\n' "$out" | awk -v num="$num" -v mb="$mb" '
    /^ +write amp / && $0 !~ "^ +write amp (" num "([+]-[0-9.e+-]+)?: " mb " written to tables / " mb " flushed, during this workload|n/a: .+)$" { print; exit }')
[ -z "$bad" ] || fail "malformed write amp line: $bad"

if [ $wamp = 1 ]; then
    # The workload of each result line, then whether a write amp number followed it.
    got=$(printf '%s\n' "$out" | awk -v num="$num" '
        $0 ~ "^[A-Za-z0-9]+ +: " { name = $1; next }
        name != "" && $0 ~ "^ +write amp " num "([+]-[0-9.e+-]+)?: " { print name; name = "" }')
    want=$(printf '%s\n' "$1" | tr ',' '\n')
    [ "$got" = "$want" ] || fail "expected a write amp figure after each of these workloads.
expected:
$want
got:
$got"
    echo "smoke_check: write amp of $(printf '%s\n' "$want" | wc -l | tr -d ' ') workloads ok"
    exit 0
fi
# The result lines, in order: "name : X micros/op; Y MB/s; Z ops/s[; (F of T found)]",
# "compact : not supported ...", or "stats : ENGINE stats follow".
got=$(printf '%s\n' "$out" | awk -v num="$num" '
    $0 ~ "^[A-Za-z0-9]+ +: +" num " micros/op; +" num " MB/s; +[0-9]+ ops/s(; \\([0-9]+ of [0-9]+ found\\))?$" { print $1; next }
    $0 ~ /^compact +: not supported by [a-z]+ yet/ { print $1; next }
    $0 ~ /^stats +: [a-z]+ stats follow$/ { print $1; next }')
want=$(printf '%s\n' "$1" | tr ',' '\n')
[ "$got" = "$want" ] || fail "result lines do not match the workloads run.
expected:
$want
got:
$got"

if [ $rate = 1 ]; then
    n=$(printf '%s\n' "$1" | tr ',' '\n' | wc -l)
    l=$(printf '%s\n' "$out" | grep -cE "^ +latency us: p50 $num +p95 $num +p99 $num +p99\.9 $num +max $num" || true)
    r=$(printf '%s\n' "$out" | grep -cE "^ +rate: target $num ops/s, achieved $num ops/s, ended $num ms behind schedule" || true)
    [ "$l" -eq "$n" ] && [ "$r" -eq "$n" ] || fail "expected $n latency and rate lines, got $l and $r"
fi
echo "smoke_check: $(printf '%s\n' "$1" | tr ',' '\n' | wc -l | tr -d ' ') workloads ok"
