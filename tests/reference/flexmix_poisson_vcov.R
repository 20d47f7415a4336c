# R 4.2.2, flexmix: the observed-information covariance of a two-component Poisson mixture.
# poisson_mixture.csv: 300 counts of Poisson(2) and 200 of Poisson(9) (numpy's
# default_rng(0)). refit() maximises the likelihood again with optim and inverts its
# Hessian, in the log rate of each component and the log-odds alpha = log(pi_2 / pi_1).
# Run from tests/reference: Rscript flexmix_poisson_vcov.R
library(flexmix)
d <- read.csv("poisson_mixture.csv")
set.seed(1)
m <- flexmix(y ~ 1, data = d, k = 2, model = FLXMRglm(family = "poisson"),
             control = list(tolerance = 1e-12, iter.max = 5000))
r <- refit(m)
out <- data.frame(parameter = names(r@coef), estimate = r@coef, r@vcov, check.names = FALSE)
write.csv(out, "flexmix_poisson_vcov.csv", row.names = FALSE)
