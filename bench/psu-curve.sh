#!/usr/bin/env bash
# Issue 20's cost curve: `vicor estimate` (Taylor) against R's survey package
# as the number of PSUs and the number of rows grow.
#   (a) 1,000,000 rows with 80, 1,000, 10,000 and 100,000 PSUs;
#   (b) 100,000, 1,000,000 and 10,000,000 rows at 10 respondents per PSU.
# Each file gets bench/ten-means.yaml (5 means, then the same 5 by sex x age)
# and the full SDG preset (bench/sdg-microdata.yaml); R runs the same
# estimates (bench/ten-means.R, bench/sdg-preset.R) from read.csv on, on
# files up to R_MAX_ROWS rows (default 1,000,000: R needs minutes beyond).
# vicor's figure is the best of 3 runs; R's is one run, kept in bench/r-times/. Writes a table to
# stdout and bench/psu-curve.tsv, and the plot to docs/psu-curve.png.
#   bench/psu-curve.sh              (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
r_max=${R_MAX_ROWS:-1000000}
cargo build --release --quiet
vicor=target/release/vicor
have_r=0
if command -v Rscript > /dev/null && Rscript -e 'suppressMessages(library(survey))' > /dev/null 2>&1; then
    have_r=1
fi
# wall seconds and peak MB of one run: "wall mb"
once() {
    local out
    out=$( { /usr/bin/time -f "%e %M" "$@" > /dev/null; } 2>&1 | tail -1 )
    read -r wall kb <<< "$out"
    echo "$wall $((kb / 1024))"
}
best3() {
    local best="" mb=0 w m
    for _ in 1 2 3; do
        read -r w m <<< "$(once "$@")"
        if [ -z "$best" ] || [ "$(echo "$w < $best" | bc -l)" = 1 ]; then best=$w; fi
        [ "$m" -gt "$mb" ] && mb=$m
    done
    echo "$best $mb"
}
# R's wall seconds for a script on a file, kept in bench/r-times/ (R takes
# minutes here and its figure does not change with vicor's code; delete the
# directory to measure again).
r_time() { # script data
    local cache=bench/r-times/$(basename "$2" .csv).$1
    if [ ! -s "$cache" ]; then
        mkdir -p bench/r-times
        local t
        t=$(once Rscript "bench/$1.R" "$2" | cut -d' ' -f1)
        echo "$t" > "$cache"
    fi
    cat "$cache"
}
tsv=bench/psu-curve.tsv
printf 'series\trows\tpsus\tcsv_mb\tvicor_ten_s\tvicor_ten_mb\tr_ten_s\tvicor_sdg_s\tvicor_sdg_mb\tr_sdg_s\n' > "$tsv"
printf '| series | rows | PSUs | CSV MB | vicor ten | peak MB | R ten | ratio | vicor SDG | peak MB | R SDG | ratio |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
point() { # series rows psus
    local series=$1 rows=$2 psus=$3
    local data=bench/victim-$rows-psu$psus.csv
    [ -f "$data" ] || Rscript bench/generate.R "$rows" 20240607 "$data" "$psus" > /dev/null
    local csv_mb=$(( $(stat -c %s "$data") / 1000000 ))
    read -r vt vtm <<< "$(best3 $vicor estimate --data "$data" --design bench/design.yaml --spec bench/ten-means.yaml --format json)"
    read -r vs vsm <<< "$(best3 $vicor estimate --data "$data" --design bench/design.yaml --spec bench/sdg-microdata.yaml --format json)"
    local rt=NA rs=NA
    if [ "$have_r" = 1 ] && [ "$rows" -le "$r_max" ]; then
        rt=$(r_time ten-means "$data")
        rs=$(r_time sdg-preset "$data")
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$series" "$rows" "$psus" "$csv_mb" "$vt" "$vtm" "$rt" "$vs" "$vsm" "$rs" >> "$tsv"
    ratio() { [ "$1" = NA ] && echo "" || printf '%.0fx' "$(echo "$1 / $2" | bc -l)"; }
    printf '| %s | %s | %s | %s | %s s | %s | %s | %s | %s s | %s | %s | %s |\n' "$series" "$rows" "$psus" "$csv_mb" \
        "$vt" "$vtm" "${rt/NA/not run}" "$(ratio "$rt" "$vt")" "$vs" "$vsm" "${rs/NA/not run}" "$(ratio "$rs" "$vs")"
}
for p in 80 1000 10000 100000; do point psus 1000000 "$p"; done
for n in 100000 1000000 10000000; do point rows "$n" $((n / 10)); done
if [ "$have_r" = 1 ]; then
    Rscript -e '
        d <- read.delim("bench/psu-curve.tsv", na.strings = "NA")
        png("docs/psu-curve.png", width = 900, height = 420, res = 100)
        par(mfrow = c(1, 2), mar = c(4.2, 4.2, 2.5, 1))
        a <- d[d$series == "psus", ]
        yl <- range(c(a$vicor_ten_s, a$r_ten_s, a$vicor_sdg_s, a$r_sdg_s), na.rm = TRUE)
        plot(a$psus, a$r_ten_s, log = "xy", type = "b", pch = 1, ylim = yl, xlab = "PSUs (1M rows)",
             ylab = "seconds, whole process", main = "Cost against PSUs")
        lines(a$psus, a$r_sdg_s, type = "b", pch = 2)
        lines(a$psus, a$vicor_ten_s, type = "b", pch = 16)
        lines(a$psus, a$vicor_sdg_s, type = "b", pch = 17)
        legend("right", c("R ten", "R SDG preset", "vicor ten", "vicor SDG preset"), pch = c(1, 2, 16, 17), bty = "n", cex = 0.8)
        b <- d[d$series == "rows", ]
        yl <- range(c(b$vicor_ten_s, b$r_ten_s, b$vicor_sdg_s, b$r_sdg_s), na.rm = TRUE)
        plot(b$rows, b$vicor_ten_s, log = "xy", type = "b", pch = 16, ylim = yl, xlab = "rows (10 per PSU)",
             ylab = "seconds, whole process", main = "Cost against rows")
        lines(b$rows, b$vicor_sdg_s, type = "b", pch = 17)
        lines(b$rows, b$r_ten_s, type = "b", pch = 1)
        lines(b$rows, b$r_sdg_s, type = "b", pch = 2)
        invisible(dev.off())'
fi
