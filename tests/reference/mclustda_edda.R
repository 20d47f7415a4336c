# mclust's EDDA discriminant analysis (one Gaussian per class, the covariance structure across
# classes) for tests/test_generative_classifier_mclust.py: every one of the 14 models on iris
# with its species as classes. Run from the repository root:
#   Rscript tests/reference/mclustda_edda.R
suppressMessages(library(mclust))  # 6.0.0
x <- as.matrix(read.csv("tests/data/mclust/iris.csv"))
y <- rep(1:3, each = 50)  # setosa, versicolor, virginica: the rows' order
rows <- list()
for (m in mclust.options("emModelNames")) {
  f <- MclustDA(x, y, modelType = "EDDA", modelNames = m, verbose = FALSE)
  add <- function(what, k, i, j, value)
    rows[[length(rows) + 1]] <<- data.frame(model = m, what = what, k = k, i = i, j = j,
                                            value = sprintf("%.17e", value))
  add("loglik", NA, NA, NA, f$loglik)  # the mixture log-likelihood at the class densities
  add("df", NA, NA, NA, f$df)
  for (k in 1:3) {
    p <- f$models[[k]]$parameters
    for (i in 1:4) {
      add("mean", k, i, NA, p$mean[i])
      for (j in 1:4) add("sigma", k, i, j, p$variance$sigma[i, j, 1])
    }
  }
}
write.csv(do.call(rbind, rows), "tests/reference/mclustda_edda.csv", row.names = FALSE,
          quote = FALSE, na = "NA")
