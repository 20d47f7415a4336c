r"""Model-based agglomerative hierarchical clustering: mclust's deterministic starts.

mclust starts EM from a partition cut from one tree (Fraley, 1998): beginning with every
row as its own group, it merges at each step the two groups whose union lowers the
classification likelihood of the unconstrained Gaussian model (VVV) least. Its merge cost,
with :math:`n_g` rows, scatter :math:`W_g` and :math:`p` features, is the change of

.. math::
    t(g) = n_g \log\Big(|W_g/n_g|\,[n_g > p]
        + \beta\,\frac{\operatorname{tr}W_g + \alpha}{n_g}\Big),
    \qquad d(i, j) = t(i \cup j) - t(i) - t(j),

where :math:`\alpha` (the data's total variance per row and feature) and :math:`\beta = 1`
keep small groups' costs finite. The tree is built on the data as mclust's default
``hcUse = "SVD"`` transforms them (Scrucca and Raftery, 2015): columns centred and scaled to
unit variance, rotated onto their principal axes and divided by the square roots of the
singular values. Above ``SUBSET`` rows the tree is built on a sample of that many rows (mclust
does the same with a random sample; here the sample is fixed, so the start never depends on
``random_state``). One-dimensional data are cut at quantiles instead, as mclust's ``qclass``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

SUBSET = 2000  # mclust.options("subset")
SAMPLE_SEED = 20151  # the fixed sample of rows above SUBSET
_CACHE: OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = OrderedDict()
_CACHE_SIZE = 4


def svd_transform(x: np.ndarray) -> np.ndarray:
    """mclust's ``hcUse = "SVD"``: scaled data on principal axes over sqrt singular values.

    Constant columns are dropped first (their scaled values are undefined).
    """
    sd = x.std(axis=0, ddof=1) if x.shape[0] > 1 else np.zeros(x.shape[1])
    keep = sd > 0
    z = (x[:, keep] - x[:, keep].mean(axis=0)) / sd[keep]
    if z.shape[1] == 0:
        return z
    _, singular, vt = np.linalg.svd(z, full_matrices=False)
    p = min(z.shape)
    singular = np.maximum(singular[:p], np.finfo(float).tiny)
    return (z @ vt[:p].T) / np.sqrt(singular)


def _terms(count: np.ndarray, trace: np.ndarray, logdet: np.ndarray, p: int, alpha: float):
    """t(g) for arrays of group sizes, scatter traces and log|W_g / n_g| (-inf where n_g <= p)."""
    spread = (trace + alpha) / count
    with np.errstate(divide="ignore", over="ignore"):
        det = np.where(count > p, np.exp(logdet), 0.0)
    return count * np.log(det + spread)


def agglomerate(z: np.ndarray) -> list[tuple[int, int]]:
    """The merges of model-based (VVV) agglomeration of rows ``z`` (n, p), in order.

    Each merge ``(i, j)`` joins the groups headed by rows i and j into the group headed by i.
    Every row starts as its own group, equal rows too (as ``hc`` calls ``hcVVV``).
    """
    n, p = z.shape
    heads = np.arange(n)
    alpha = max(float(((z - z.mean(axis=0)) ** 2).sum()) / (n * p), np.finfo(float).eps)
    active = np.zeros(n, dtype=bool)
    active[np.unique(heads)] = True
    count = np.bincount(heads, minlength=n).astype(float)
    mean = z.copy()
    scatter = np.zeros((n, p, p))
    trace = np.zeros(n)
    logdet = np.full(n, -np.inf)
    term = np.where(active, _terms(np.maximum(count, 1.0), trace, logdet, p, alpha), 0.0)

    def costs(i: int, others: np.ndarray) -> np.ndarray:
        ni, nk = count[i], count[others]
        nik = ni + nk
        delta = mean[others] - mean[i]  # (m, p)
        factor = ni * nk / nik
        tr = trace[i] + trace[others] + factor * np.einsum("kp,kp->k", delta, delta)
        ld = np.full(others.shape[0], -np.inf)
        big = nik > p
        if big.any():
            w = scatter[i] + scatter[others[big]]
            w += factor[big, None, None] * delta[big, :, None] * delta[big, None, :]
            sign, value = np.linalg.slogdet(w / nik[big, None, None])
            ld[big] = np.where(sign > 0, value, -np.inf)
        return _terms(nik, tr, ld, p, alpha) - term[i] - term[others]

    index = np.flatnonzero(active)
    m = index.shape[0]
    cost = np.full((n, n), np.inf)
    if m > 1:
        # Pairs of singletons (or duplicate groups): costs from distances, in blocks.
        for start in range(0, m, 512):
            rows = index[start : start + 512]
            for r in rows:
                cost[r, index] = costs(int(r), index)
                cost[r, r] = np.inf
    best = np.full(n, np.inf)
    partner = np.zeros(n, dtype=int)
    first = cost[index] if m < n else cost  # no (n, n) copy where every row is a group
    best[index] = first.min(axis=1)
    partner[index] = first.argmin(axis=1)
    merges = []
    for _ in range(m - 1):
        a = int(np.argmin(best))
        b = int(partner[a])
        i, j = min(a, b), max(a, b)
        merges.append((i, j))
        # The union takes row i's place; j leaves.
        ni, nj = count[i], count[j]
        nij = ni + nj
        delta = mean[j] - mean[i]
        scatter[i] = scatter[i] + scatter[j] + (ni * nj / nij) * np.outer(delta, delta)
        trace[i] = np.trace(scatter[i])
        mean[i] = (ni * mean[i] + nj * mean[j]) / nij
        count[i] = nij
        if nij > p:
            sign, value = np.linalg.slogdet(scatter[i] / nij)
            logdet[i] = value if sign > 0 else -np.inf
        term[i] = _terms(np.array([nij]), trace[i : i + 1], logdet[i : i + 1], p, alpha)[0]
        active[j] = False
        cost[j, :] = cost[:, j] = np.inf
        best[j] = np.inf
        others = np.flatnonzero(active)
        others = others[others != i]
        if others.shape[0] == 0:
            break
        row = costs(i, others)
        cost[i, others] = cost[others, i] = row
        best[i] = row.min()
        partner[i] = others[int(row.argmin())]
        # Rows whose best partner was i or j look again; others may now prefer i.
        stale = others[(partner[others] == i) | (partner[others] == j)]
        for r in stale:
            best[r] = cost[r].min()
            partner[r] = int(cost[r].argmin())
        closer = row < best[others]
        best[others[closer]] = row[closer]
        partner[others[closer]] = i
    return merges


def cut(heads: np.ndarray, merges: list[tuple[int, int]], k: int) -> np.ndarray | None:
    """Labels 0..k-1 of the rows (by first appearance) with ``k`` groups left; None where
    the tree never has ``k`` groups."""
    groups = heads.copy()
    n_groups = np.unique(groups).shape[0]
    if k > n_groups or k < 1:
        return None
    for i, j in merges[: n_groups - k]:
        groups[groups == j] = i
    _, labels = np.unique(groups, return_inverse=True)
    return labels.ravel()


def quantile_classes(x: np.ndarray, k: int) -> np.ndarray:
    """mclust's ``qclass``: classes 0..k-1 of 1-D ``x`` cut at k+1 distinct quantiles."""
    x = np.asarray(x, dtype=float).ravel()
    eps = (x.std(ddof=1) if x.shape[0] > 1 else 0.0) * np.sqrt(np.finfo(float).eps)
    q = np.array([np.nan])
    points = k
    while q.shape[0] < k + 1:
        points += 1
        q = np.unique(np.quantile(x, np.linspace(0.0, 1.0, points)))
        if points > x.shape[0] + k + 1:
            break
    if q.shape[0] > k + 1:
        gaps = np.argsort(np.diff(q), kind="stable")[: q.shape[0] - k - 1]
        q = np.delete(q, gaps)
    q[0] = x.min() - eps
    q[-1] = x.max() + eps
    return np.clip(np.searchsorted(q, x, side="right") - 1, 0, q.shape[0] - 2)


def subset_rows(n: int) -> np.ndarray:
    """The rows the tree is built on: all, or a fixed sample of ``SUBSET`` above that."""
    if n <= SUBSET:
        return np.arange(n)
    return np.sort(np.random.default_rng(SAMPLE_SEED).choice(n, SUBSET, replace=False))


def tree(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """(rows used, initial groups, merges) of mclust's default tree on ``x`` (n, d), cached
    for the last few data sets (every structure and K of a selection cuts the same tree)."""
    rows = subset_rows(x.shape[0])
    sub = np.ascontiguousarray(x[rows], dtype=np.float64)
    key = hashlib.blake2b(sub.tobytes() + str(sub.shape).encode(), digest_size=16).digest()
    if key in _CACHE:
        _CACHE.move_to_end(key)
        heads, merges_array = _CACHE[key]
        return rows, heads, [tuple(m) for m in merges_array.tolist()]
    z = svd_transform(sub)
    heads = np.arange(sub.shape[0]) if z.shape[1] else np.zeros(sub.shape[0], dtype=int)
    merges = agglomerate(z) if z.shape[1] else []
    _CACHE[key] = (heads, np.asarray(merges, dtype=int).reshape(-1, 2))
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return rows, heads, merges


def hierarchical_labels(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """mclust's start for K components: (rows, labels of those rows in 0..k-1), or None where
    the data hold fewer than k distinct rows.

    One-dimensional data are cut at quantiles; otherwise the tree of :func:`tree` is cut.
    """
    if x.shape[1] == 1:
        rows = np.arange(x.shape[0])
        if np.unique(x).shape[0] < k:
            return None
        return rows, quantile_classes(x[:, 0], k)
    rows, heads, merges = tree(x)
    labels = cut(heads, merges, k)
    return None if labels is None else (rows, labels)
