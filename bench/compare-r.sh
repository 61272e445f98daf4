#!/usr/bin/env bash
# Speed of `vicor estimate` against R's survey package on a generated
# 1,000,000-respondent victimization file (8 strata, 80 PSUs, weights, 10
# indicator columns): (a) read + design + the SDG indicators by sex x age
# group with Taylor SEs; (b) the same with 80 JKn replicates formed from the
# design. Also runs the full SDG preset. Prints wall times and peak memory.
#   bench/compare-r.sh [N]        (from the repository root; N default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
data=bench/victim-$n.csv
[ -f "$data" ] || Rscript bench/generate.R "$n" 20240607 "$data"
cargo build --release --quiet
vicor=target/release/vicor
size=$(stat -c %s "$data")
echo "data: $data ($size bytes, $n rows)"
# Wall time, CPU time (user + sys: the fair figure on a shared machine) and
# peak resident memory.
measure() { # label command...
    local label=$1; shift
    local out wall cpu mem
    out=$( { /usr/bin/time -f "%e %U %S %M" "$@" > /dev/null; } 2>&1 | tail -1 )
    read -r wall user sys mem <<< "$out"
    cpu=$(echo "$user + $sys" | bc -l)
    printf '%-34s wall %7.2f s   cpu %7.2f s   peak %6.0f MB\n' "$label" "$wall" "$cpu" "$(echo "$mem / 1024" | bc -l)"
}
measure "vicor (a) Taylor, sex x age" $vicor estimate --data "$data" --design bench/design.yaml --spec bench/sdg-sex-age.yaml --format json
measure "vicor (b) JKn 80, sex x age" $vicor estimate --data "$data" --design bench/design-jkn.yaml --spec bench/sdg-sex-age.yaml --format json
measure "vicor full SDG preset, Taylor" $vicor estimate --data "$data" --design bench/design.yaml --spec bench/sdg-microdata.yaml --format json
measure "vicor full SDG preset, JKn 80" $vicor estimate --data "$data" --design bench/design-jkn.yaml --spec bench/sdg-microdata.yaml --format json
if command -v Rscript > /dev/null && Rscript -e 'suppressMessages(library(survey))' > /dev/null 2>&1; then
    measure "R survey (a) Taylor, sex x age" Rscript bench/compare-r.R "$data" taylor
    measure "R survey (b) JKn 80, sex x age" Rscript bench/compare-r.R "$data" jkn
else
    echo "R with the survey package is not installed: R timings skipped"
fi

# Weighting: raking a million respondents, vicor against R's rake().
echo
echo "weighting (bench/compare-r-weight.sh):"
bench/compare-r-weight.sh "$n"
