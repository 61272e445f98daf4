#!/usr/bin/env Rscript
# R side of bench/compare-r.sh: the estimates of bench/sdg-sex-age.yaml with
# R's survey package (Taylor, or 80 JKn replicates from as.svrepdesign).
#   Rscript bench/compare-r.R DATA.csv taylor|jkn
suppressPackageStartupMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
des <- svydesign(ids = ~psu, strata = ~region, weights = ~weight, nest = TRUE, data = d)
if (args[2] == "jkn") des <- as.svrepdesign(des, type = "JKn")
ind <- list(
  phys = list(y = quote(as.numeric(phys_viol == 1))),
  psych = list(y = quote(as.numeric(psych_viol == 1))),
  sexv = list(y = quote(as.numeric(sex_viol == 1))),
  safe = list(y = quote(as.numeric(safe_walk %in% c(1, 2)))),
  rep_phys = list(y = quote(as.numeric(phys_reported == 1)), dom = quote(phys_viol == 1)),
  rep_sex = list(y = quote(as.numeric(sex_reported == 1)), dom = quote(sex_viol == 1)),
  bribe = list(y = quote(as.numeric(bribe_paid == 1 | bribe_asked == 1)), dom = quote(contact_official == 1)),
  harass = list(y = quote(as.numeric(sex_harass == 1))))
for (k in names(ind)) {
  des <- eval(bquote(update(des, .y = .(ind[[k]]$y))))
  sub <- if (is.null(ind[[k]]$dom)) des else eval(bquote(subset(des, .(ind[[k]]$dom))))
  sub <- subset(sub, !is.na(.y))
  tot <- svymean(~.y, sub, deff = TRUE)
  ci <- confint(tot, df = degf(sub))
  by <- svyby(~.y, ~sex + age_group, sub, svymean, deff = TRUE, vartype = c("se", "ci"))
  cat(k, coef(tot), SE(tot), "\n")
}
