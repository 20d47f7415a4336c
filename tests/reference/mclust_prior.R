# mclust's MAP fits under its default conjugate prior, priorControl(), for
# tests/test_mclust_prior.py. Run from the repository root:
#   Rscript tests/reference/mclust_prior.R
# Needs R with mclust (Debian: apt-get install r-base-core r-cran-mclust); mclust 6.0.0 made the
# stored files. Writes beside this script:
#   mclust_prior_starts.csv  the hard partitions the fits with G >= 2 start from (data, G, row,
#                            class): mclust's own starts, hc() classes (quantile classes in 1-D);
#   mclust_prior.csv         each fit in long form (data, model, G, shrinkage, what, k, i, j,
#                            value): what is loglik, bic, pro (k), mean (i, k) or sigma (i, j, k),
#                            indices from 1; shrinkage 0.01 is priorControl()'s, 0 is
#                            priorControl(shrinkage = 0) (EEI only: mclust's EEI EM leaves the
#                            means unshrunk, so that only without shrinkage is it the mode of a
#                            posterior).
# G = 1 is mvn(), as Mclust() fits one component (closed forms, mclust's XII, XXI and XXX); G >= 2
# is me() from the stored partition, the EM Mclust() runs after its hierarchical start, here to a
# relative change of 1e-15 (inner iterations of VEI and VEV too), far past mclust's default.
suppressPackageStartupMessages(library(mclust))
stopifnot(packageVersion("mclust") == "6.0.0")
here <- "tests/reference"
read <- function(name) read.csv(file.path("tests/data/mclust", paste0(name, ".csv")))
sets <- list(iris = as.matrix(read("iris")), faithful = as.matrix(read("faithful")),
             acidity = read("acidity")$acidity)
multi <- c("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "EEV", "VEV", "VVV")
without <- c("VEE", "EVE", "VVE", "EVV")  # no prior in mclust's EM: G = 1 only
control <- emControl(tol = c(1e-15, 1e-15), itmax = c(1e6, 1e6))

long <- function(data, model, G, shrinkage, what, value, k = NA, i = NA, j = NA) {
  data.frame(data = data, model = model, G = G, shrinkage = shrinkage, what = what, k = k, i = i,
             j = j, value = value)
}

rows <- list()
starts <- list()
for (name in names(sets)) {
  x <- sets[[name]]
  oneD <- is.null(dim(x))
  n <- if (oneD) length(x) else nrow(x)
  d <- if (oneD) 1 else ncol(x)
  fits <- if (oneD) list(c("E", 0.01), c("V", 0.01)) else
    c(lapply(c(multi, without), function(m) c(m, 0.01)), list(c("EEI", 0)))
  for (G in 1:3) {
    if (G > 1) {
      cl <- if (oneD) mclust:::qclass(x, G) else hclass(hc(x, use = mclust.options("hcUse")), G)
      cl <- as.vector(cl)
      starts[[length(starts) + 1]] <- data.frame(data = name, G = G, row = seq_len(n), class = cl)
    }
    for (spec in fits) {
      m <- spec[1]
      shrinkage <- as.numeric(spec[2])
      prior <- if (shrinkage > 0) priorControl() else priorControl(shrinkage = 0)
      if (G > 1 && m %in% without) next
      fit <- if (G == 1) mvn(modelName = m, data = x, prior = prior) else
        me(modelName = m, data = x, z = unmap(cl), prior = prior, control = control)
      loglik <- fit$loglik
      par <- fit$parameters
      # A component whose weight falls to 0 (Old Faithful, G = 3: VEI, EVI, VVI) ends the fit.
      if (!is.finite(loglik)) next
      b <- bic(m, loglik, n, d, G)
      out <- list(long(name, m, G, shrinkage, "loglik", loglik),
                  long(name, m, G, shrinkage, "bic", b),
                  long(name, m, G, shrinkage, "pro", rep_len(par$pro, G), k = 1:G))
      mu <- matrix(par$mean, nrow = d, ncol = G)
      out[[4]] <- long(name, m, G, shrinkage, "mean", as.vector(mu), k = rep(1:G, each = d),
                       i = rep(1:d, G))
      if (oneD) {
        sigma <- array(rep_len(par$variance$sigmasq, G), c(1, 1, G))
      } else {
        sigma <- array(par$variance$sigma, c(d, d, G))
      }
      out[[5]] <- long(name, m, G, shrinkage, "sigma", as.vector(sigma), k = rep(1:G, each = d * d),
                       i = rep(rep(1:d, d), G), j = rep(rep(1:d, each = d), G))
      rows[[length(rows) + 1]] <- do.call(rbind, out)
    }
  }
}
write.csv(do.call(rbind, starts), file.path(here, "mclust_prior_starts.csv"), row.names = FALSE)
result <- do.call(rbind, rows)
write.csv(format(result, digits = 17), file.path(here, "mclust_prior.csv"), row.names = FALSE,
          quote = FALSE)
