# plot.gp: db_bench's interval report as a chart of throughput over time.
#   gnuplot -e "csv='build/fillrandom.csv'; png='build/fillrandom.png'" bench/plot.gp
# The CSV (db_bench --report_interval=S --report_file=F) has the columns
# elapsed_s, ops_per_s, p99_us, cumulative_ops, workload.  Throughput is the
# line on the left axis: a write stall shows as a dip to zero (and an empty
# p99 for the intervals in which no operation finished).  p99 latency is on
# the right axis, logarithmic, so that a stall's spike and normal operation
# both show.
if (!exists("csv")) csv = 'build/fillrandom.csv'
if (!exists("png")) png = 'build/fillrandom.png'
if (!exists("title")) title = 'db_bench: throughput over time'

set terminal pngcairo size 1200,600 font ",10"
set output png
set datafile separator ","
set datafile missing ""
set key top right noenhanced
set title title noenhanced
set xlabel "elapsed (s)"
set ylabel "ops/s in the interval"
set y2label "p99 latency in the interval (us)"
set yrange [0:*]
set logscale y2
set ytics nomirror
set y2tics
set grid xtics ytics
set format y "%.0s%c"

plot csv using 1:2 with lines lw 2 lc rgb "#1f77b4" title "ops/s", \
     csv using 1:($3 > 0 ? $3 : 1/0) axes x1y2 with points pt 7 ps 0.5 lc rgb "#d62728" title "p99 (us)"
