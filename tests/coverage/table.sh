#!/bin/sh
# table.sh: prints gcovr's CSV summary (stdin) as `make coverage`'s
# table: one line per source file with its line and branch coverage, then
# the totals.  The CSV is gcovr's --csv (5.x): filename, line_total,
# line_covered, line_percent, branch_total, branch_covered, branch_percent,
# function_total, ...
awk -F, '
function pct(c, t) { return t ? sprintf("%5.1f%%", 100 * c / t) : "   n/a" }
NR == 1 { next }
{
    f[NR] = $1; lt[NR] = $2; lc[NR] = $3; bt[NR] = $5; bc[NR] = $6
    LT += $2; LC += $3; BT += $5; BC += $6; n = NR
}
END {
    printf "%-28s %7s %7s %7s   %7s %7s %7s\n", "file", "lines", "missed", "cover", "branch", "missed", "cover"
    for (i = 2; i <= n; i++)
        printf "%-28s %7d %7d %7s   %7d %7d %7s\n", f[i], lt[i], lt[i] - lc[i], pct(lc[i], lt[i]),
            bt[i], bt[i] - bc[i], pct(bc[i], bt[i])
    printf "%-28s %7d %7d %7s   %7d %7d %7s\n", "TOTAL", LT, LT - LC, pct(LC, LT), BT, BT - BC, pct(BC, BT)
}'
