# Criteria of mclust's discriminant analysis and semi-supervised classification for
# tests/test_generative_classifier_bic.py (mclust 6.0.0). Run from the repository root:
#   Rscript tests/reference/mclustda_bic.R
# EDDA (one Gaussian per class, the structure across classes) on iris (3 x 50 rows) and
# thyroid (150 Normal, 35 Hyper, 30 Hypo rows, in the data's order) for each of the 14 models:
#   loglik  MclustDA's: sum_n log sum_k prop_k f_k(x_n), the class densities' mixture
#   df      MclustDA's (6.0.0: means and covariance parameters; 6.1.1 adds nclass - 1)
#   bic     MclustDA's, 2 loglik - df log n
#   joint   sum_n log prop_{y_n} f_{y_n}(x_n) by dens() at the same fit
#   chosen  the model MclustDA(modelType = "EDDA") picks from all 14 (value 1 on its row)
# MclustSSC on iris with rows 1, 6, 11, ... labelled (30) and the rest unlabelled, run to a
# gain of 1e-12 in log-likelihood: its loglik (labelled rows log prop_y f_y(x), unlabelled
# rows log sum_k prop_k f_k(x)), df and bic.
suppressMessages(library(mclust))  # 6.0.0
rows <- list()
add <- function(data, type, model, what, value)
  rows[[length(rows) + 1]] <<- data.frame(data = data, type = type, model = model, what = what,
                                          value = sprintf("%.17e", value))
sets <- list(iris = list(x = as.matrix(read.csv("tests/data/mclust/iris.csv")),
                         y = rep(1:3, each = 50)),
             thyroid = list(x = as.matrix(read.csv("tests/data/mclust/thyroid.csv")),
                            y = rep(1:3, c(150, 35, 30))))
for (name in names(sets)) {
  x <- sets[[name]]$x
  y <- sets[[name]]$y
  for (m in mclust.options("emModelNames")) {
    f <- MclustDA(x, y, modelType = "EDDA", modelNames = m, verbose = FALSE)
    add(name, "EDDA", m, "loglik", f$loglik)
    add(name, "EDDA", m, "df", f$df)
    add(name, "EDDA", m, "bic", f$bic)
    joint <- 0
    for (k in 1:3) {
      I <- y == k
      joint <- joint + sum(do.call("dens", c(list(data = x[I, , drop = FALSE],
                                                  logarithm = TRUE), f$models[[k]])))
      joint <- joint + sum(I) * log(f$prop[k])
    }
    add(name, "EDDA", m, "joint", joint)
  }
  best <- MclustDA(x, y, modelType = "EDDA", verbose = FALSE)
  add(name, "EDDA", best$models[[1]]$modelName, "chosen", 1)
}
x <- sets$iris$x
y <- sets$iris$y
y[seq_along(y) %% 5 != 1] <- NA
for (m in c("EII", "VII", "EEI", "VVI", "EEE", "VVV")) {
  f <- MclustSSC(x, y, modelNames = m, control = emControl(tol = 1e-12), verbose = FALSE)
  add("iris", "SSC", m, "loglik", f$loglik)
  add("iris", "SSC", m, "df", f$df)
  add("iris", "SSC", m, "bic", f$bic)
}
# MclustSSC on iris with one labelled row of each class (rows 1, 51, 101: "SSC3"), and with a
# second one of the first class (rows 1, 2, 51, 101: "SSC4"), at most d + 1 labelled rows in
# all: its loglik, started (as always) from the M-step of every row, unlabelled ones at 1/G.
for (few in list(SSC3 = c(1, 51, 101), SSC4 = c(1, 2, 51, 101))) {
  y <- rep(NA, 150)
  y[few] <- sets$iris$y[few]
  kind <- paste0("SSC", length(few))
  for (m in c("EII", "VII", "EEI", "VVI", "EEE", "VVV")) {
    f <- MclustSSC(x, y, modelNames = m, control = emControl(tol = 1e-12), verbose = FALSE)
    add("iris", kind, m, "loglik", f$loglik)
  }
}
write.csv(do.call(rbind, rows), "tests/reference/mclustda_bic.csv", row.names = FALSE,
          quote = FALSE)
