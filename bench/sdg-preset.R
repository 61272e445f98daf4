#!/usr/bin/env Rscript
# R side of the full SDG preset (bench/sdg-microdata.yaml: 8 indicators, each
# by sex, age group, sex x age group, region, urban and disability, with the
# preset's CIs: svyciprop logit or beta, Korn-Graubard), Taylor design.
#   Rscript bench/sdg-preset.R DATA.csv
suppressPackageStartupMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
des <- svydesign(ids = ~psu, strata = ~region, weights = ~weight, nest = TRUE, data = d)
ind <- list(
  phys = list(y = quote(as.numeric(phys_viol == 1)), ci = "logit"),
  psych = list(y = quote(as.numeric(psych_viol == 1)), ci = "logit"),
  sexv = list(y = quote(as.numeric(sex_viol == 1)), ci = "beta"),
  safe = list(y = quote(as.numeric(safe_walk %in% c(1, 2))), ci = "logit"),
  rep_phys = list(y = quote(as.numeric(phys_reported == 1)), dom = quote(phys_viol == 1), ci = "beta"),
  rep_sex = list(y = quote(as.numeric(sex_reported == 1)), dom = quote(sex_viol == 1), ci = "beta"),
  bribe = list(y = quote(as.numeric(bribe_paid == 1 | bribe_asked == 1)), dom = quote(contact_official == 1), ci = "logit"),
  harass = list(y = quote(as.numeric(sex_harass == 1)), ci = "logit"))
bys <- list(~sex, ~age_group, ~sex + age_group, ~region, ~urban, ~disability)
for (k in names(ind)) {
  des <- eval(bquote(update(des, .y = .(ind[[k]]$y))))
  sub <- if (is.null(ind[[k]]$dom)) des else eval(bquote(subset(des, .(ind[[k]]$dom))))
  sub <- subset(sub, !is.na(.y))
  tot <- svyciprop(~.y, sub, method = ind[[k]]$ci)
  for (b in bys) {
    by <- svyby(~.y, b, sub, svyciprop, method = ind[[k]]$ci, vartype = c("se", "ci"))
  }
  cat(k, sprintf("%.15g", coef(tot)), sprintf("%.15g", SE(tot)), "\n")
}
