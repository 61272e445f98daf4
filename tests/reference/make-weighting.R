# Expected values for the weighting tests (tests/weighting.rs and the unit
# tests of src/weighting/), made by R's survey package. Run from the crate
# root:  Rscript tests/reference/make-weighting.R
# It writes the input data to tests/fixtures/weighting/, the expected
# weights and SEs to tests/reference/weighting/, and the demo country's
# population targets to weights/targets/demo/. Never edit those by hand.
#
# Calibrations run with epsilon = 1e-13 (R's default 1e-7 leaves weights
# accurate to about 1e-7 only), except the *_default cases, which check
# that vicor stops where R stops with R's defaults.
suppressMessages(library(survey))
options(warn = 2)  # a calibration that fails to converge must stop the script
data(api)
options(survey.lonely.psu = "fail")

fix <- "tests/fixtures/weighting"
ref <- "tests/reference/weighting"
dir.create(fix, recursive = TRUE, showWarnings = FALSE)
dir.create(ref, recursive = TRUE, showWarnings = FALSE)
header <- sprintf("# made by tests/reference/make-weighting.R with %s, survey %s",
                  R.version.string, as.character(packageVersion("survey")))

num <- function(x) sprintf("%.17g", x)
write_data <- function(df, name) {
  df[] <- lapply(df, function(v) if (is.double(v)) num(v) else as.character(v))
  write.csv(df, file.path(fix, name), row.names = FALSE, quote = FALSE)
}
# One column per vector, full precision, header comment first.
write_ref <- function(cols, name) {
  path <- file.path(ref, name)
  out <- as.data.frame(lapply(cols, function(v) if (is.numeric(v)) num(v) else v),
                       stringsAsFactors = FALSE)
  writeLines(header, path)
  suppressWarnings(write.table(out, path, sep = ",", quote = FALSE, row.names = FALSE,
                               append = TRUE))
}
ses <- list()
add_se <- function(case, est, extra = list()) {
  ses[[length(ses) + 1]] <<- data.frame(case = case, estimate = num(coef(est)[1]),
                                        se = num(SE(est)[1]), stringsAsFactors = FALSE)
}

TIGHT <- 1e-13

## apiclus1: one-stage cluster sample of districts, fpc 757
clus1 <- apiclus1[, c("dnum", "snum", "stype", "sch.wide", "comp.imp", "api99", "api00", "pw", "fpc")]
write_data(clus1, "apiclus1.csv")
dclus1 <- svydesign(ids = ~dnum, weights = ~pw, data = clus1, fpc = ~fpc)
pop_type <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop_wide <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))
tt <- as.data.frame(table(apipop$stype)); names(tt) <- c("stype", "total")
write.csv(tt, file.path(fix, "targets_stype.csv"), row.names = FALSE, quote = FALSE)
pop_lin <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, api99 = 3914069)

ps <- postStratify(dclus1, ~stype, pop_type)
write_ref(list(weight = weights(ps)), "apiclus1_poststratify.csv")
add_se("apiclus1_poststratify", svymean(~api00, ps))

rk <- rake(dclus1, list(~stype, ~sch.wide), list(pop_type, pop_wide),
           control = list(maxit = 1000, epsilon = 1e-13))
write_ref(list(weight = weights(rk)), "apiclus1_rake.csv")
add_se("apiclus1_rake", svymean(~api00, rk))
rkd <- suppressWarnings(rake(dclus1, list(~stype, ~sch.wide), list(pop_type, pop_wide)))
write_ref(list(weight = weights(rkd)), "apiclus1_rake_default.csv")

cal_cases <- list(
  linear = list(calfun = "linear", bounds = c(-Inf, Inf)),
  truncated = list(calfun = "linear", bounds = c(0.6, 1.6)),
  raking = list(calfun = "raking", bounds = c(-Inf, Inf)),
  # Bounded raking: R's F' tests u, not exp(u), against the bounds, so
  # Newton stalls near 1e-10; this case stops at 1e-9.
  raking_bounded = list(calfun = "raking", bounds = c(0.6, 1.6), epsilon = 1e-9),
  logit = list(calfun = "logit", bounds = c(0.6, 1.6))
)
for (nm in names(cal_cases)) {
  cc <- cal_cases[[nm]]
  cal <- calibrate(dclus1, ~stype + api99, pop_lin, calfun = cc$calfun,
                   bounds = cc$bounds, epsilon = if (is.null(cc$epsilon)) TIGHT else cc$epsilon)
  write_ref(list(weight = weights(cal)), sprintf("apiclus1_%s.csv", nm))
  add_se(sprintf("apiclus1_%s", nm), svymean(~api00, cal))
}
# R's default epsilon: vicor must stop at the same iteration.
cal <- calibrate(dclus1, ~stype + api99, pop_lin, calfun = "logit", bounds = c(0.6, 1.6))
write_ref(list(weight = weights(cal)), "apiclus1_logit_default.csv")
# calibrate(trim=) after raking, then trimWeights on the result.
cal <- suppressMessages(calibrate(dclus1, ~stype + api99, pop_lin, calfun = "raking",
                                  epsilon = TIGHT, trim = c(0.95, 1.05)))
write_ref(list(weight = weights(cal)), "apiclus1_raking_trim.csv")
tw <- trimWeights(cal, lower = 30, upper = 36)
write_ref(list(weight = weights(tw)), "apiclus1_trimweights.csv")
tws <- trimWeights(cal, lower = 30, upper = 35, strict = TRUE)
write_ref(list(weight = weights(tws)), "apiclus1_trimweights_strict.csv")

# Replicates: JK1 from the cluster design, every replicate re-calibrated.
rclus1 <- as.svrepdesign(dclus1, type = "JK1", compress = FALSE)
rw <- as.matrix(unclass(weights(rclus1, "analysis")))
colnames(rw) <- sprintf("rw%d", seq_len(ncol(rw)))
write_data(cbind(clus1, rw), "apiclus1_jk1.csv")
rep_cases <- list(linear = cal_cases$linear, raking = cal_cases$raking,
                  logit = list(calfun = "logit", bounds = c(0.3, 3)))
for (nm in names(rep_cases)) {
  cc <- rep_cases[[nm]]
  rcal <- calibrate(rclus1, ~stype + api99, pop_lin, calfun = cc$calfun,
                    bounds = cc$bounds, epsilon = TIGHT, compress = FALSE)
  crw <- as.matrix(unclass(weights(rcal, "analysis")))
  cols <- list(weight = weights(rcal, "sampling"))
  for (r in seq_len(ncol(crw))) cols[[sprintf("rw%d", r)]] <- crw[, r]
  write_ref(cols, sprintf("apiclus1_jk1_%s.csv", nm))
  add_se(sprintf("apiclus1_jk1_%s", nm), svymean(~api00, rcal))
}
write_ref(list(scale = rclus1$scale, rscales = rclus1$rscales[1]), "apiclus1_jk1_scale.csv")

## apistrat: stratified element sample, fpc
strat <- apistrat[, c("stype", "snum", "sch.wide", "comp.imp", "api99", "api00", "pw", "fpc")]
write_data(strat, "apistrat.csv")
dstrat <- svydesign(ids = ~1, strata = ~stype, weights = ~pw, data = strat, fpc = ~fpc)
pop_comp <- data.frame(comp.imp = c("No", "Yes"), Freq = c(1712, 4482))
for (v in c("sch.wide", "comp.imp")) {
  tt <- as.data.frame(table(apipop[[v]])); names(tt) <- c(v, "total")
  write.csv(tt, file.path(fix, sprintf("targets_%s.csv", v)), row.names = FALSE, quote = FALSE)
}
rk <- rake(dstrat, list(~sch.wide, ~comp.imp), list(pop_wide, pop_comp),
           control = list(maxit = 1000, epsilon = 1e-13))
write_ref(list(weight = weights(rk)), "apistrat_rake.csv")
pop_strat <- c(`(Intercept)` = 6194, sch.wideYes = 5122, comp.impYes = 4482, api99 = 3914069)
for (nm in names(cal_cases)) {
  cc <- cal_cases[[nm]]
  cal <- calibrate(dstrat, ~sch.wide + comp.imp + api99, pop_strat, calfun = cc$calfun,
                   bounds = cc$bounds, epsilon = if (is.null(cc$epsilon)) TIGHT else cc$epsilon)
  write_ref(list(weight = weights(cal)), sprintf("apistrat_%s.csv", nm))
  add_se(sprintf("apistrat_%s", nm), svymean(~api00, cal))
}

# Replicates: JKn from the stratified design, every replicate re-calibrated.
rstrat <- as.svrepdesign(dstrat, type = "JKn", compress = FALSE)
rcal <- calibrate(rstrat, ~sch.wide + comp.imp + api99, pop_strat, calfun = "raking",
                  epsilon = TIGHT, compress = FALSE)
crw <- as.matrix(unclass(weights(rcal, "analysis")))
cols <- list(weight = weights(rcal, "sampling"))
for (r in seq_len(ncol(crw))) cols[[sprintf("rw%d", r)]] <- crw[, r]
write_ref(cols, "apistrat_jkn_raking.csv")
add_se("apistrat_jkn_raking", svymean(~api00, rcal))

## A synthetic victimization survey: 10 regions (strata), 30 EAs each,
## households with 1 to 5 adults, one adult interviewed, some nonresponse.
set.seed(20261126)
regions <- 1:10
sex_levels <- c("female", "male")
age_levels <- c("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
rows <- list()
for (h in regions) {
  for (e in 1:30) {
    m <- 16 + rpois(1, 4)
    rows[[length(rows) + 1]] <- data.frame(
      region = h, ea = sprintf("%02d%02d", h, e),
      p_ea = 30 / (200 + 20 * h), p_hh = m / (80 + 5 * e %% 7),
      adults = sample(1:5, m, replace = TRUE, prob = c(.25, .4, .2, .1, .05)),
      sex = sample(sex_levels, m, replace = TRUE, prob = c(.55, .45)),
      age = sample(age_levels, m, replace = TRUE, prob = c(.12, .22, .2, .18, .15, .13)),
      responded = rbinom(m, 1, 0.8 + 0.015 * (h %% 4)),
      victim = rbinom(m, 1, 0.1 + 0.01 * h),
      stringsAsFactors = FALSE)
  }
}
syn <- do.call(rbind, rows)
syn$id <- seq_len(nrow(syn))
syn <- syn[, c("id", "region", "ea", "p_ea", "p_hh", "adults", "sex", "age", "responded", "victim")]
write_data(syn, "synthetic.csv")
# Population: a joint table sex x age x region whose margins are the targets.
joint <- expand.grid(sex = sex_levels, age = age_levels, region = regions, stringsAsFactors = FALSE)
pop_size <- sum(1 / (syn$p_ea * syn$p_hh) * syn$adults)
joint$total <- round(runif(nrow(joint), 0.6, 1.4) * pop_size / nrow(joint))
write.csv(aggregate(total ~ sex, joint, sum), file.path(fix, "targets_sex.csv"), row.names = FALSE, quote = FALSE)
write.csv(aggregate(total ~ age, joint, sum), file.path(fix, "targets_age.csv"), row.names = FALSE, quote = FALSE)
write.csv(aggregate(total ~ region, joint, sum), file.path(fix, "targets_region.csv"), row.names = FALSE, quote = FALSE)
write.csv(aggregate(total ~ sex + age, joint, sum), file.path(fix, "targets_sex_age.csv"), row.names = FALSE, quote = FALSE)
# The plan's steps by hand: base weight, adults, nonresponse by region.
syn$d <- 1 / (syn$p_ea * syn$p_hh) * syn$adults
adj <- ave(syn$d, syn$region, FUN = sum) /
  ave(syn$d * syn$responded, syn$region, FUN = sum)
resp <- syn[syn$responded == 1, ]
resp$d_nr <- resp$d * adj[syn$responded == 1]
write_ref(list(id = resp$id, weight = resp$d_nr), "synthetic_nonresponse.csv")
dsyn <- svydesign(ids = ~ea, strata = ~region, weights = ~d_nr, data = resp)
t_sex <- aggregate(total ~ sex, joint, sum); names(t_sex)[2] <- "Freq"
t_age <- aggregate(total ~ age, joint, sum); names(t_age)[2] <- "Freq"
t_reg <- aggregate(total ~ region, joint, sum); names(t_reg)[2] <- "Freq"
t_sa <- aggregate(total ~ sex + age, joint, sum); names(t_sa)[3] <- "Freq"
resp$region_f <- factor(resp$region)
dsyn <- svydesign(ids = ~ea, strata = ~region, weights = ~d_nr, data = resp)
rk <- rake(dsyn, list(~sex, ~age, ~region), list(t_sex, t_age, t_reg),
           control = list(maxit = 1000, epsilon = 1e-13))
write_ref(list(id = resp$id, weight = weights(rk)), "synthetic_rake.csv")
add_se("synthetic_rake", svymean(~victim, rk))
ps <- postStratify(dsyn, ~sex + age, t_sa)
write_ref(list(id = resp$id, weight = weights(ps)), "synthetic_poststratify.csv")
add_se("synthetic_poststratify", svymean(~victim, ps))
pop_syn <- c(sum(t_sex$Freq), t_sex$Freq[-1], t_age$Freq[-1], t_reg$Freq[-1])
form <- ~sex + age + factor(region)
for (nm in c("linear", "raking")) {
  cal <- calibrate(dsyn, form, pop_syn, calfun = nm, epsilon = TIGHT)
  write_ref(list(id = resp$id, weight = weights(cal)), sprintf("synthetic_%s.csv", nm))
  add_se(sprintf("synthetic_%s", nm), svymean(~victim, cal))
}
cal <- calibrate(dsyn, form, pop_syn, calfun = "logit", bounds = c(0.5, 2.5), epsilon = TIGHT)
write_ref(list(id = resp$id, weight = weights(cal)), "synthetic_logit.csv")
add_se("synthetic_logit", svymean(~victim, cal))
# The whole plan of tests/fixtures/weighting/synthetic-plan.yaml: raking,
# then trimWeights to [lower, upper].
cal <- calibrate(dsyn, form, pop_syn, calfun = "raking", epsilon = TIGHT)
tw <- trimWeights(cal, lower = 40, upper = 400)
write_ref(list(id = resp$id, weight = weights(tw)), "synthetic_plan.csv")
# Its Taylor SE: R keeps the calibration (g of the raking, before trimming)
# for the residuals and uses the trimmed weights in the scores.
add_se("synthetic_plan", svymean(~victim, tw))

se <- do.call(rbind, ses)
writeLines(header, file.path(ref, "se.csv"))
suppressWarnings(write.table(se, file.path(ref, "se.csv"), sep = ",", quote = FALSE,
                             row.names = FALSE, append = TRUE))
