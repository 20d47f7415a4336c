# mclust's hierarchical trees for emkit's tests (tests/data/mclust/hc_*.csv), on data whose
# costs tie (repeated rows).
# Run from the repository root:  Rscript benchmarks/mclust/hc_reference.R
# Needs R with mclust (Debian: apt-get install r-base-core r-cran-mclust); mclust 6.0.0 made
# the stored files. Mclust builds the tree as below: VVV on SVD-transformed data, every row its
# own group to start (hc() passes no partition to hcVVV).
suppressPackageStartupMessages(library(mclust))
out <- "tests/data/mclust"

# Repeated rows at generic positions (written with few decimals, so that R and Python read the
# same doubles): 40 rows in three dimensions, each 1 to 5 times, copies adjacent.
set.seed(3)
base <- round(matrix(rnorm(40 * 3), 40) + rep(c(0, 3), each = 20), 2)
repeats3 <- base[rep(1:40, times = sample(1:5, 40, replace = TRUE)), ]
colnames(repeats3) <- c("x1", "x2", "x3")
write.csv(repeats3, file.path(out, "repeats3.csv"), row.names = FALSE)

sets <- list(faithful = faithful, repeats3 = repeats3)
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
