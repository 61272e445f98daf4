#!/usr/bin/env Rscript
# R side of bench/ten-means.yaml, as issue 20's user ran it: read the file,
# set up the Taylor design, 5 means overall and the same 5 by sex x age group,
# as a user types them (no deff: it makes svyby several times slower here, so
# leaving it out is the kinder comparison for R; vicor always computes it).
# Prints the estimates and SEs so that a run can be checked against vicor's.
#   Rscript bench/ten-means.R DATA.csv
suppressPackageStartupMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
des <- svydesign(ids = ~psu, strata = ~region, weights = ~weight, nest = TRUE, data = d)
for (v in c("phys_viol", "psych_viol", "sex_viol", "sex_harass", "urban")) {
  f <- as.formula(paste0("~", v))
  m <- svymean(f, des, na.rm = TRUE)
  ci <- confint(m, df = degf(des))
  by <- svyby(f, ~sex + age_group, des, svymean, na.rm = TRUE)
  cat(v, sprintf("%.15g", coef(m)), sprintf("%.15g", SE(m)), "\n")
}
