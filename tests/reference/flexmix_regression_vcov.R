# R 4.2.2, flexmix: the observed-information covariance of a two-line mixture of regressions.
# regression_mixture.csv: 200 rows, x ~ U(0, 10); 40% on y = 1 + 2x + N(0, 1), the rest on
# y = 8 - 0.5x + N(0, 0.36) (numpy's default_rng(0)). refit() maximises the likelihood again
# with optim and inverts its Hessian, in (intercept, slope, log sigma) per component and the
# log-odds alpha = log(pi_2 / pi_1).
# Run from tests/reference: Rscript flexmix_regression_vcov.R
library(flexmix)
d <- read.csv("regression_mixture.csv")
set.seed(1)
m <- flexmix(y ~ x, data = d, k = 2, control = list(tolerance = 1e-12, iter.max = 5000))
r <- refit(m)
out <- data.frame(parameter = names(r@coef), estimate = r@coef, r@vcov, check.names = FALSE)
write.csv(out, "flexmix_regression_vcov.csv", row.names = FALSE)
