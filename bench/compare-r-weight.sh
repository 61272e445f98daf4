#!/usr/bin/env bash
# Weighting speed side by side with R: rake 1,000,000 respondents on three
# margins (sex x 6 age groups x 10 regions), R's survey::rake against
# `vicor weight` with the same stopping rule (R's defaults: 10 sweeps, 1 unit
# of weight), and check that the weights agree.
#
#   bench/compare-r-weight.sh [ROWS]      (default 1000000)
#
# Needs Rscript with the survey package and a release build
# (`cargo build --release`). Results go to bench/out/weight/ and a summary
# line to stdout; record them in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
out=bench/out/weight
mkdir -p "$out"
vicor=target/release/vicor
[ -x "$vicor" ] || { echo "build first: cargo build --release" >&2; exit 1; }
if ! Rscript -e 'suppressMessages(library(survey))' > /dev/null 2>&1; then
  echo "R with the survey package is not installed: the weighting comparison is skipped"
  exit 0
fi

# 1. Data and targets, made once per size.
if [ ! -f "$out/data-$rows.csv" ]; then
  Rscript - "$rows" "$out" <<'R'
args <- commandArgs(TRUE); n <- as.integer(args[1]); out <- args[2]
set.seed(42)
sex <- sample(c("female", "male"), n, TRUE, c(.52, .48))
age <- sample(c("18-24", "25-34", "35-44", "45-54", "55-64", "65+"), n, TRUE,
              c(.1, .2, .2, .2, .15, .15))
region <- sample(sprintf("r%02d", 1:10), n, TRUE, (1:10) / 55)
d <- round(runif(n, 5, 15), 3)
write.csv(data.frame(id = seq_len(n), sex, age, region, d), file.path(out, sprintf("data-%d.csv", n)),
          row.names = FALSE, quote = FALSE)
N <- 12 * n
tab <- function(v, p) data.frame(v = names(p), total = round(N * p / sum(p)))
ts <- tab("sex", c(female = .51, male = .49))
ta <- tab("age", c(`18-24` = .13, `25-34` = .2, `35-44` = .19, `45-54` = .18, `55-64` = .16, `65+` = .14))
tr <- tab("region", setNames(rep(1, 10), sprintf("r%02d", 1:10)))
fix <- function(t) { t$total[1] <- t$total[1] + N - sum(t$total); t }
for (x in list(list("sex", ts), list("age", ta), list("region", tr))) {
  t <- fix(x[[2]]); names(t)[1] <- x[[1]]
  write.csv(t, file.path(out, sprintf("%s.csv", x[[1]])), row.names = FALSE, quote = FALSE)
}
R
fi
cat > "$out/plan.yaml" <<'EOF2'
# Benchmark plan: R's rake() with its default control.
base:
  weights: [d]
calibration:
  method: rake
  epsilon: 1
  maxit: 10
  margins:
    - variable: sex
      targets: sex.csv
    - variable: age
      targets: age.csv
    - variable: region
      targets: region.csv
EOF2

# 2. vicor: best of three runs; the weighting step is timed apart from
#    reading and writing the CSV (printed by `vicor weight` on stderr).
best_w=999999; best_all=999999
for _ in 1 2 3; do
  t0=$(date +%s.%N)
  "$vicor" weight --plan "$out/plan.yaml" --data "$out/data-$rows.csv" \
    --out "$out/vicor-$rows.csv" > "$out/vicor-$rows.txt" 2> "$out/vicor-$rows.time"
  t1=$(date +%s.%N)
  w=$(sed -n 's/.*weighting \([0-9.]*\) s.*/\1/p' "$out/vicor-$rows.time")
  all=$(echo "$t1 - $t0" | bc -l)
  best_w=$(echo "if ($w < $best_w) $w else $best_w" | bc -l)
  best_all=$(echo "if ($all < $best_all) $all else $best_all" | bc -l)
done

# 3. R: survey::rake, timed alone (reading the CSV is timed apart).
Rscript - "$rows" "$out" > "$out/r-$rows.txt" <<'R'
suppressMessages(library(survey))
args <- commandArgs(TRUE); n <- args[1]; out <- args[2]
t_read <- system.time(df <- read.csv(file.path(out, sprintf("data-%s.csv", n)),
                                      colClasses = c("integer", "character", "character", "character", "numeric")))
pop <- function(v) { t <- read.csv(file.path(out, sprintf("%s.csv", v)), colClasses = c("character", "numeric")); names(t) <- c(v, "Freq"); t }
des <- svydesign(ids = ~1, weights = ~d, data = df)
t_rake <- system.time(rk <- rake(des, list(~sex, ~age, ~region), list(pop("sex"), pop("age"), pop("region"))))
w <- weights(rk)
v <- read.csv(file.path(out, sprintf("vicor-%s.csv", n)), colClasses = c(rep("NULL", 5), "numeric"))[[1]]
cat(sprintf("r_read %.3f\nr_rake %.3f\nmax_rel_diff %.3e\nr_version %s\nsurvey_version %s\n",
            t_read[["elapsed"]], t_rake[["elapsed"]], max(abs(v - w) / w),
            paste(R.version$major, R.version$minor, sep = "."), packageVersion("survey")))
R

r_rake=$(sed -n 's/^r_rake //p' "$out/r-$rows.txt")
r_read=$(sed -n 's/^r_read //p' "$out/r-$rows.txt")
diff=$(sed -n 's/^max_rel_diff //p' "$out/r-$rows.txt")
{
  echo "rows: $rows  (R $(sed -n 's/^r_version //p' "$out/r-$rows.txt"), survey $(sed -n 's/^survey_version //p' "$out/r-$rows.txt"))"
  printf "R rake():                     %8.3f s   (read.csv %.3f s apart)\n" "$r_rake" "$r_read"
  printf "vicor weight, weighting step: %8.3f s   -> %.0fx faster than R rake()\n" "$best_w" "$(echo "$r_rake / $best_w" | bc -l)"
  printf "vicor weight, whole command:  %8.3f s   (read CSV, weight, write CSV and report)\n" "$best_all"
  echo "largest relative difference between vicor's and R's weights: $diff"
} | tee "$out/summary-$rows.txt"
