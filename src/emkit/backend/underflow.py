"""The floor below which the passes set exponentials to 0 rather than leave them subnormal.

On Intel cores each arithmetic operation on a subnormal number takes a microcode assist, so a
pass that lets responsibilities or exponentials go subnormal runs many times slower; the
Gaussian pass (:mod:`emkit.backend.gaussian_pass`) and the family pass
(:mod:`emkit.backend.family_pass`) zero them instead (:func:`exp_normal`).
"""

from __future__ import annotations

import numpy as np

# The log of the smallest normal float64. Responsibilities below it are set to 0 before they
# enter a product: on Intel cores each arithmetic operation on a subnormal number takes a
# microcode assist (exp itself, and a (features, rows) @ (rows, k) product with 10% subnormal
# entries runs 30x slower: EM in 50 dimensions, where most rows have some far components,
# ran 20x slower per iteration). Such a responsibility moves no sum by 1e-300 relative.
LOG_TINY = float(np.log(np.finfo(np.float64).tiny))
# The same floor for a pass in float32 (single_precision): not float32's own (-87.3) but well
# above it, so that the responsibilities' products with the features (down to ~1e-11) in the
# statistics stay normal too: a float32 pass whose terms reached -85 ran 3x slower.
LOG_TINY_SINGLE = -62.0


def exp_normal(a: np.ndarray, floor: float = LOG_TINY) -> np.ndarray:
    """:math:`e^a` in place of ``a``, 0 where ``a < floor`` (by default where :math:`e^a`
    would be subnormal; a floor of ``LOG_TINY + log k`` keeps k of them, normalised, normal)."""
    if a.size and a.min() < floor:  # a read is cheaper than the comparison and the copy
        np.copyto(a, -np.inf, where=a < floor)
    return np.exp(a, out=a)
