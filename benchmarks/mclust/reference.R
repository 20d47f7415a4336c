# Reference numbers from R's mclust for emkit's tests (tests/data/mclust/).
# Run from the repository root:  Rscript benchmarks/mclust/reference.R
# Needs R with mclust (Debian: apt-get install r-base-core r-cran-mclust). mclust 6.0.0 made
# the stored files.
suppressPackageStartupMessages(library(mclust))
out <- "tests/data/mclust"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

# Hierarchical starts as Mclust makes them: VVV on SVD-transformed data (hc()'s own default
# use is "VARS"; Mclust passes mclust.options("hcUse"), "SVD").
write.csv(hclass(hc(iris[, 1:4], use = mclust.options("hcUse")), 1:9), file.path(out, "iris_hc.csv"), row.names = FALSE)
# One-dimensional starts: quantile classes.
q <- sapply(2:5, function(k) mclust:::qclass(faithful$waiting, k))
colnames(q) <- 2:5
write.csv(q, file.path(out, "faithful_waiting_qclass.csv"), row.names = FALSE)

# Data sets shipped with mclust, written out so the Python tests need no R.
data(diabetes, banknote, thyroid, wreath, acidity, package = "mclust")
sets <- list(
  faithful = faithful,
  iris = iris[, 1:4],
  diabetes = diabetes[, -1],
  banknote = banknote[, -1],
  thyroid = thyroid[, -1],
  wreath = wreath,
  acidity = data.frame(acidity = acidity)
)
rows <- list()
for (name in names(sets)) {
  x <- sets[[name]]
  write.csv(x, file.path(out, paste0(name, ".csv")), row.names = FALSE)
  elapsed <- system.time(fit <- Mclust(x, verbose = FALSE))[["elapsed"]]
  rows[[name]] <- data.frame(
    data = name, n = fit$n, d = fit$d, model = fit$modelName, G = fit$G,
    loglik = fit$loglik, df = fit$df, bic = fit$bic, icl = icl(fit), seconds = elapsed
  )
}
write.csv(do.call(rbind, rows), file.path(out, "mclust_defaults.csv"), row.names = FALSE)

# Every model at G = 3 on iris (hierarchical start, mclust's EM).
models <- mclust.options("emModelNames")
iris3 <- do.call(rbind, lapply(models, function(m) {
  fit <- Mclust(iris[, 1:4], G = 3, modelNames = m, verbose = FALSE)
  data.frame(model = m, loglik = fit$loglik, df = fit$df, bic = fit$bic)
}))
write.csv(iris3, file.path(out, "iris_G3.csv"), row.names = FALSE)

# Old Faithful EEE-3 with mclust's default stopping rule (relative gain 1e-5) and run to a
# tight tolerance: the criteria at the maximum, where emkit's EM stops.
for (tol in c(1e-5, 1e-12)) {
  fit <- Mclust(faithful, G = 3, modelNames = "EEE", verbose = FALSE,
                control = emControl(tol = c(tol, sqrt(.Machine$double.eps))))
  write.csv(data.frame(loglik = fit$loglik, bic = fit$bic, icl = icl(fit)),
    file.path(out, sprintf("faithful_EEE3_tol%g.csv", tol)), row.names = FALSE)
}

# MclustBootstrap standard errors of Old Faithful EEE-3: nonparametric (bs), parametric (pb)
# and weighted likelihood (wlbs) bootstrap, 1000 replicates each, with the fitted values.
set.seed(1)
fit <- Mclust(faithful, G = 3, modelNames = "EEE", verbose = FALSE)
p <- fit$parameters
rows <- list()
for (type in c("bs", "pb", "wlbs")) {
  se <- summary(MclustBootstrap(fit, nboot = 1000, type = type, verbose = FALSE), what = "se")
  for (k in 1:fit$G) {
    rows[[length(rows) + 1]] <- data.frame(type = type, parameter = "weights", component = k - 1,
      i = 0, j = 0, se = se$pro[k], estimate = p$pro[k])
    for (i in 1:fit$d) {
      rows[[length(rows) + 1]] <- data.frame(type = type, parameter = "means", component = k - 1,
        i = i - 1, j = 0, se = se$mean[i, k], estimate = p$mean[i, k])
      for (j in 1:fit$d) {
        rows[[length(rows) + 1]] <- data.frame(type = type, parameter = "covariances",
          component = k - 1, i = i - 1, j = j - 1, se = se$variance[i, j, k],
          estimate = p$variance$sigma[i, j, k])
      }
    }
  }
}
write.csv(do.call(rbind, rows), file.path(out, "faithful_EEE3_bootstrap.csv"), row.names = FALSE)
