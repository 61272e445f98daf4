#!/usr/bin/env Rscript
# Writes a synthetic victimization microdata file in the layout of
# docs/victimization-microdata.md: 8 regions (strata), PSUs numbered within
# each region, person weights, and the 10 indicator columns the SDG preset
# reads.
#   Rscript bench/generate.R N SEED OUT.csv [PSUS]
# PSUS (default 80) is the number of PSUs in all; each region gets its share
# in proportion to its population (at least 2), so a region's PSUs hold about
# N / PSUS respondents each, as in a household survey's enumeration areas.
args <- commandArgs(trailingOnly = TRUE)
n <- as.integer(if (length(args) >= 1) args[1] else 1000000)
seed <- as.integer(if (length(args) >= 2) args[2] else 20240607)
out <- if (length(args) >= 3) args[3] else "bench/victim-1m.csv"
n_psus <- as.integer(if (length(args) >= 4) args[4] else 80)
set.seed(seed)
share <- c(.18, .16, .14, .13, .11, .1, .1, .08)
region <- sample(1:8, n, replace = TRUE, prob = share)
if (n_psus == 80) {
    # The original layout (10 per region, same random draws): earlier figures stand.
    psu <- sample(1:10, n, replace = TRUE)
    psu_eff <- rnorm(80, 0, 0.35)[(region - 1) * 10 + psu]
} else {
    per_region <- pmax(2L, as.integer(round(n_psus * share)))
    psu <- as.integer(floor(runif(n) * per_region[region])) + 1L
    offset <- c(0L, cumsum(per_region))[region]
    psu_eff <- rnorm(sum(per_region), 0, 0.35)[offset + psu]
}
sex <- sample(1:2, n, replace = TRUE)
age_group <- sample(1:5, n, replace = TRUE, prob = c(.22, .24, .22, .18, .14))
urban <- as.integer(runif(n) < 0.55)
disability <- as.integer(runif(n) < 0.08)
adults <- sample(1:5, n, replace = TRUE)
weight <- round(c(40, 35, 50, 45, 30, 60, 55, 25)[region] * 3 * adults * runif(n, 0.8, 1.25), 4)
lp <- -2.3 + psu_eff + 0.3 * (age_group == 1) + 0.2 * urban
phys_viol <- as.integer(runif(n) < plogis(lp))
psych_viol <- as.integer(runif(n) < plogis(lp + 0.6))
sex_viol <- as.integer(runif(n) < plogis(lp - 1.2 + 0.7 * (sex == 2)))
phys_reported <- ifelse(phys_viol == 1, as.integer(runif(n) < 0.4), NA)
sex_reported <- ifelse(sex_viol == 1, as.integer(runif(n) < 0.2), NA)
safe_walk <- sample(c(1:5, 98, 99), n, replace = TRUE, prob = c(.25, .27, .2, .12, .1, .04, .02))
contact_official <- as.integer(runif(n) < plogis(-0.5 + 0.3 * urban))
bribe_paid <- ifelse(contact_official == 1, as.integer(runif(n) < plogis(-2 + psu_eff)), NA)
bribe_asked <- ifelse(contact_official == 1, as.integer(runif(n) < plogis(-1.7 + psu_eff)), NA)
sex_harass <- as.integer(runif(n) < plogis(-2 + 0.6 * (sex == 2) - 0.2 * age_group))
d <- data.frame(id = seq_len(n), region, psu, weight, sex, age_group, urban, disability,
                phys_viol, psych_viol, sex_viol, phys_reported, sex_reported, safe_walk,
                contact_official, bribe_paid, bribe_asked, sex_harass)
write.csv(d, out, row.names = FALSE, na = "")
