# R 4.2.2, mclust 6.0.0: MclustBootstrap of a scale mixture of two normals with nearly equal
# means (scale_mixture.csv: 400 rows of N(0, 1) and 200 of N(0.05, 25), numpy's
# default_rng(0)), model V with two components. mclust starts each replicate's EM from the
# fit's responsibilities, so its components keep their labels without any matching.
# Run from tests/reference: Rscript mclust_scale_bootstrap.R
library(mclust)
x <- read.csv("scale_mixture.csv")$x
fit <- Mclust(x, G = 2, modelNames = "V")
rows <- list()
for (type in c("bs", "wlbs")) {
  set.seed(1)
  boot <- MclustBootstrap(fit, nboot = 1000, type = type, verbose = FALSE)
  se <- summary(boot, what = "se")
  rows[[type]] <- data.frame(
    type = type,
    parameter = rep(c("weights", "means", "variances"), each = 2),
    component = rep(0:1, 3),
    estimate = c(fit$parameters$pro, fit$parameters$mean, fit$parameters$variance$sigmasq),
    se = c(se$pro, se$mean, se$variance),
    nonfit = boot$nonfit
  )
}
write.csv(do.call(rbind, rows), "mclust_scale_bootstrap.csv", row.names = FALSE)
