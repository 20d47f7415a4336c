# R 4.2.2, mclust 6.0.0: MclustBootstrap of iris (the four measurements) with mclust's
# BIC choice, VEV with two components; standard errors of the weights, means and
# variances over 1000 replicates of each kind.
# Run from tests/reference: Rscript mclust_iris_bootstrap.R
library(mclust)
x <- iris[, 1:4]
fit <- Mclust(x, G = 2, modelNames = "VEV")
rows <- list()
for (type in c("bs", "wlbs")) {
  set.seed(1)
  boot <- MclustBootstrap(fit, nboot = 1000, type = type, verbose = FALSE)
  se <- summary(boot, what = "se")
  for (g in 1:2) {
    rows[[length(rows) + 1]] <- data.frame(
      type = type, parameter = "weights", component = g - 1, i = 0, j = 0,
      estimate = fit$parameters$pro[g], se = se$pro[g]
    )
    rows[[length(rows) + 1]] <- data.frame(
      type = type, parameter = "means", component = g - 1, i = 0:3, j = 0,
      estimate = fit$parameters$mean[, g], se = se$mean[, g]
    )
    idx <- expand.grid(i = 0:3, j = 0:3)
    rows[[length(rows) + 1]] <- data.frame(
      type = type, parameter = "covariances", component = g - 1, i = idx$i, j = idx$j,
      estimate = as.vector(fit$parameters$variance$sigma[, , g]),
      se = as.vector(se$variance[, , g])
    )
  }
}
out <- do.call(rbind, rows)
write.csv(out, "mclust_iris_bootstrap.csv", row.names = FALSE)
