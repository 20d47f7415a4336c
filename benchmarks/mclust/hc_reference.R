# mclust's hierarchical trees for emkit's tests (tests/data/mclust/hc_*.csv), on data whose
# costs tie (repeated rows) and on data where hcvvv's stored factors decide (wreath).
# Run from the repository root:  Rscript benchmarks/mclust/hc_reference.R
# Needs R with mclust (Debian: apt-get install r-base-core r-cran-mclust); mclust 6.0.0 made
# the stored files. Mclust builds the tree as below: VVV on SVD-transformed data, every row its
# own group to start (hc() passes no partition to hcVVV).
suppressPackageStartupMessages(library(mclust))
out <- "tests/data/mclust"

# Repeated rows at generic positions (written with few decimals, so that R and Python read the
# same doubles): 60 rows in two dimensions, each 1 to 4 times, shuffled; 40 rows in three, each
# 1 to 5 times, copies adjacent.
set.seed(2)
base <- round(cbind(c(rnorm(30), rnorm(30, 4)), c(rnorm(30), rnorm(30, 2))), 3)
repeats2 <- base[sample(rep(1:60, times = sample(1:4, 60, replace = TRUE))), ]
set.seed(3)
base <- round(matrix(rnorm(40 * 3), 40) + rep(c(0, 3), each = 20), 2)
repeats3 <- base[rep(1:40, times = sample(1:5, 40, replace = TRUE)), ]
colnames(repeats2) <- c("x1", "x2")
colnames(repeats3) <- c("x1", "x2", "x3")
write.csv(repeats2, file.path(out, "repeats2.csv"), row.names = FALSE)
write.csv(repeats3, file.path(out, "repeats3.csv"), row.names = FALSE)

sets <- list(faithful = faithful, wreath = read.csv(file.path(out, "wreath.csv")),
             repeats2 = repeats2, repeats3 = repeats3)
for (name in names(sets)) {
  h <- hc(sets[[name]], modelName = "VVV", use = "SVD")
  pairs <- t(unclass(h)[, ])
  colnames(pairs) <- c("i", "j")
  write.csv(pairs, file.path(out, sprintf("hc_%s_merges.csv", name)), row.names = FALSE)
  write.csv(hclass(h, 1:9), file.path(out, sprintf("hc_%s_hclass.csv", name)), row.names = FALSE)
}

# Old Faithful's spherical (VII) fits with 5 and 6 components, from that tree: mclust's BIC and
# log-likelihood, its EM stopped at the default relative gain of 1e-5 and run to 1e-12.
rows <- list()
for (G in 5:6) for (tol in c(1e-5, 1e-12)) {
  fit <- Mclust(faithful, G = G, modelNames = "VII", verbose = FALSE,
                control = emControl(tol = c(tol, sqrt(.Machine$double.eps))))
  rows[[length(rows) + 1]] <- data.frame(G = G, tol = tol, loglik = fit$loglik, bic = fit$bic)
}
write.csv(do.call(rbind, rows), file.path(out, "faithful_VII.csv"), row.names = FALSE)

# Fewer rows than columns (Mclust then builds the EII tree, hc(modelName = "EII")): 20 rows
# at two decimals in 24 dimensions, two groups. No row repeats: a repeated row takes a rank
# from the scaled data, and hc(use = "SVD") divides its direction, rounding noise, by the
# square root of a singular value of about 1e-16 or less (or 0: NaN), so that the tree follows
# LAPACK's rounding.
set.seed(4)
wide <- round(round(matrix(rnorm(20 * 24), 20) + rep(c(0, 1), each = 10), 2) %*%
  diag(rep(c(3, 1, 0.5, 1.5), 6)), 2)
colnames(wide) <- sprintf("x%d", 1:24)
write.csv(wide, file.path(out, "wide.csv"), row.names = FALSE)
h <- hc(wide, modelName = "EII", use = "SVD")
pairs <- t(unclass(h)[, ])
colnames(pairs) <- c("i", "j")
write.csv(pairs, file.path(out, "hc_wide_merges.csv"), row.names = FALSE)
write.csv(hclass(h, 1:9), file.path(out, "hc_wide_hclass.csv"), row.names = FALSE)
# Its EII and EEI fits, EM run to a relative gain of 1e-12.
rows <- list()
for (model in c("EII", "EEI")) for (G in 2:3) {
  fit <- Mclust(wide, G = G, modelNames = model, verbose = FALSE,
                control = emControl(tol = c(1e-12, sqrt(.Machine$double.eps))))
  rows[[length(rows) + 1]] <- data.frame(model = model, G = G, loglik = fit$loglik)
}
write.csv(do.call(rbind, rows), file.path(out, "wide_fits.csv"), row.names = FALSE)
