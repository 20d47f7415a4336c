"""Latent-variable models: each gives ``e_step(x, w) -> (stats, loglik)`` and ``m_step(stats)``."""
