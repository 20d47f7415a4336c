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
keep small groups' costs finite. Where the data have no more rows than columns, mclust
builds the tree of the spherical model (EII) instead, Ward's (:func:`ward`), and so does
emkit. The tree is built on the data as mclust's default ``hcUse = "SVD"`` transforms them
(Scrucca and Raftery, 2015): columns centred and scaled to unit variance, rotated onto their
principal axes and divided by the square roots of the singular values. Where the scaled data
lack rank beyond the one centring takes (repeated rows among no more rows than columns,
collinear columns), mclust divides rounding noise by a singular value of 1e-16 or less (or by
0, and fails), and its tree follows LAPACK's rounding; emkit's then differs from it.

The merges follow mclust's Fortran ``hcvvv`` (:func:`agglomerate`): where costs tie, as they
do wherever rows repeat, the pair merged is the one ``hcvvv`` picks, and a group enters later
costs with the scatter ``hcvvv`` stores for it (:func:`stored_scatter`), which is not quite its
own. Costs that are equal only in exact arithmetic (congruent groups on a regular grid) are
ordered by rounding, in mclust too, and may be ordered otherwise here.

Above ``SUBSET`` rows the tree is built on a sample of that many rows (mclust does the same
with a random sample; here the sample is fixed, so the start never depends on
``random_state``). One-dimensional data are cut at quantiles instead, as mclust's ``qclass``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

SUBSET = 2000  # mclust.options("subset")
SAMPLE_SEED = 20151  # the fixed sample of rows above SUBSET
SCAN_COLUMNS = 128  # columns of the cost matrix a scan for their minima copies at once
EPS = float(np.finfo(float).eps)  # hcvvv's EPSMAX, the least alpha
FLMAX = float(np.finfo(float).max)  # hcvvv's largest cost
RTHALF = 0.7071067811865476  # hcvvv's sqrt(1/2)
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


def trace_alpha(z: np.ndarray) -> float:
    """mclust's :math:`\alpha`: ``traceW(z / sqrt(n p))``, at least machine epsilon.

    Summed in the order of mclust's Fortran ``mcltrw`` (row by row for the means, then column
    by column) with reference BLAS, so that on the same ``z`` it is the same double.
    """
    n, p = z.shape
    x = z / np.sqrt(n * p)
    fac = 1.0 / np.sqrt(n)
    u = np.cumsum(fac * x, axis=0)[-1]  # sqrt(n) * column means, accumulated row by row
    centred = x + (-fac) * u
    columns = np.cumsum(centred * centred, axis=0)[-1]
    return max(float(np.cumsum(columns)[-1]), EPS)


def stored_scatter(w: np.ndarray, count: float) -> np.ndarray:
    r"""The scatter a group of ``count`` rows and scatter ``w`` (p, p) has once hcvvv stored it.

    hcvvv keeps a group's Cholesky factor R (:math:`R^T R = W`) in min(count - 1, p) spare
    rows of its data, but copies R's first row r into each of them, and reads row k back from
    column k on: the stored factor's row k is r with its first k - 1 entries zeroed. Its scatter
    is therefore :math:`\min(a, b, q)\, r_a r_b` (1-based a, b; q = min(count - 1, p)), with
    :math:`r = W_{1\cdot} / \sqrt{W_{11}}`: W itself for two rows or one feature (q = 1). A
    group enters every later cost with it, but for the costs computed as soon as it is formed,
    while hcvvv still holds its factor in full. Where :math:`W_{11} = 0` but W is not zero
    (the group's rows share the first feature's value) the stored row depends on the order of
    hcvvv's rotations; W is kept, which mclust may not do. (mclust 5.4.7 to 6.1.3.)
    """
    p = w.shape[0]
    if w[0, 0] <= 0:
        return w
    r = w[0] / np.sqrt(w[0, 0])
    k = np.arange(1, p + 1)
    weight = np.minimum(np.minimum.outer(k, k), min(count - 1, p))
    return weight * np.outer(r, r)


def agglomerate(z: np.ndarray) -> list[tuple[int, int]]:
    """The merges of model-based (VVV) agglomeration of rows ``z`` (n, p), in mclust's order.

    Each merge ``(i, j)``, ``i < j``, joins the group labelled i and the group labelled j into
    the group labelled i, a group's label being its smallest row. Every row starts as its own
    group, equal rows too (as ``hc`` calls ``hcVVV``). This follows mclust's Fortran ``hcvvv``
    (mclust 5.4.7 to 6.1.3) step for step where its choice depends on more than the costs'
    values:

    - Ties, which are exact wherever rows repeat. ``hcvvv`` keeps the groups in slots
      ``0..m-1`` and the costs of pairs ``(i, j)``, ``i < j``, packed column by column; it
      merges the pair that comes last among the cheapest in that order (it scans with ``<=``),
      puts the union in slot i and moves the group in the last slot m-1 into slot j.
    - The union's term: the one computed with its cost where the pair holds the previous union
      (``hcvvv`` keeps it from that row), else ``cost + (t_i + t_j)`` as ``hcvvv`` rebuilds it.
    - The scatter a group enters later costs with (:func:`stored_scatter`).
    - Costs of two single rows, summed in ``hcvvv``'s order.

    Other costs are the same values computed in another order (means and determinants here,
    scaled sums and Givens rotations there), equal to ``hcvvv``'s to about 1e-13: pairs whose
    costs differ by less (a regular grid, whose distances repeat) are ordered by rounding, in
    mclust too, whose choice then depends on the BLAS that R uses.

    Each column's cheapest entry is cached (the last of its minima), so a merge costs one row
    of new costs and a scan of the m cached minima, plus a rescan of the columns whose cached
    entry the merge changed.
    """
    n, p = z.shape
    alpha = trace_alpha(z)
    count = np.ones(n)
    mean = np.array(z, dtype=float)
    scatter = np.zeros((n, p, p))  # as stored (stored_scatter)
    trace = np.zeros(n)
    term = np.full(n, np.log(alpha))  # a single row: t = log(alpha)
    label = np.arange(n)

    def single_terms(i: int, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(t, trace) of row i with each row ``others``, in hcvvv's arithmetic for two rows:
        v = (x_i - x_j) / sqrt(2), trace = v.v summed left to right, t = 2 log((trace + alpha)
        / 2) (no determinant, even where p = 1)."""
        v = (mean[i] - mean[others]) * RTHALF  # (m, p)
        tr = v[:, 0] * v[:, 0]
        for c in range(1, p):
            tr = tr + v[:, c] * v[:, c]
        return 2.0 * np.log((tr + alpha) / 2.0), tr

    def pair_terms(i: int, others: np.ndarray, w_i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(t, trace) of the union of the group in slot i, of scatter ``w_i``, with each group
        in ``others``."""
        ni, nk = count[i], count[others]
        nik = ni + nk
        delta = mean[others] - mean[i]  # (m, p)
        factor = ni * nk / nik
        tr = (trace[i] + trace[others]) + factor * np.einsum("kp,kp->k", delta, delta)
        ld = np.full(others.shape[0], -np.inf)
        big = nik > p
        if big.any():
            w = w_i + scatter[others[big]]
            w += factor[big, None, None] * delta[big, :, None] * delta[big, None, :]
            sign, value = np.linalg.slogdet(w / nik[big, None, None])
            ld[big] = np.where(sign > 0, value, -np.inf)
        return _terms(nik, tr, ld, p, alpha), tr

    def pair_costs(t: np.ndarray, i: int, others: np.ndarray) -> np.ndarray:
        # hcvvv's d = t_ij - (t_i + t_j), symmetric in i and j; a cost that is not a number
        # (overflow) counts as the largest double, hcvvv's FLMAX.
        d = t - (term[i] + term[others])
        return np.where(np.isnan(d), FLMAX, np.minimum(d, FLMAX))

    cost = np.full((n, n), np.inf)  # cost[i, j] of the groups in slots i and j
    for i in range(n - 1):
        others = np.arange(i + 1, n)
        cost[i, others] = cost[others, i] = pair_costs(single_terms(i, others)[0], i, others)

    minima = ColumnMinima(cost)
    merges = []
    m = n  # groups left, in slots 0..m-1
    last = -1  # slot of the previous union
    held = np.zeros((p, p))  # its scatter as hcvvv holds it, in full
    last_terms, last_traces = np.empty(n), np.empty(n)  # of its unions with every slot
    while m > 1:
        j = m - 1 - int(np.argmin(minima.value[:m][::-1]))  # the last column holding the minimum
        i = int(minima.row[j])
        ni, nj = count[i], count[j]
        nij = ni + nj
        delta = mean[j] - mean[i]
        if last < 0:  # the first merge, of two rows
            t_ij, tr_ij = (a[j - i - 1] for a in single_terms(i, np.arange(i + 1, n)))
        elif last in (i, j):
            t_ij, tr_ij = last_terms[i + j - last], last_traces[i + j - last]
        else:
            t_ij = cost[i, j] + (term[i] + term[j])
            tr_ij = (trace[i] + trace[j]) + (ni * nj / nij) * float(delta @ delta)
        merges.append((int(min(label[i], label[j])), int(max(label[i], label[j]))))
        # The union's scatter in full: the previous union's in full, any other as stored.
        w_i = held if last == i else scatter[i]
        w_j = held if last == j else scatter[j]
        held = w_i + w_j + (ni * nj / nij) * np.outer(delta, delta)
        scatter[i] = stored_scatter(held, nij)
        mean[i] += (nj / nij) * delta  # exact where the groups' means are equal
        count[i], trace[i], term[i] = nij, tr_ij, t_ij
        label[i] = min(label[i], label[j])
        m -= 1
        if j != m:  # the group in the last slot moves into slot j, with its costs
            count[j], mean[j], scatter[j] = count[m], mean[m], scatter[m]
            trace[j], term[j], label[j] = trace[m], term[m], label[m]
            cost[j, :m] = cost[m, :m]
            cost[:m, j] = cost[:m, m]
            cost[j, j] = np.inf
        cost[m, :] = cost[:, m] = np.inf
        minima.value[m] = np.inf
        if m == 1:
            break
        others = np.delete(np.arange(m), i)
        last = i
        last_terms[others], last_traces[others] = pair_terms(i, others, held)
        cost[i, others] = cost[others, i] = pair_costs(last_terms[others], i, others)
        minima.renewed(i, j, m)
    return merges


def ward(z: np.ndarray) -> list[tuple[int, int]]:
    r"""The merges of model-based EII agglomeration (Ward's method) of rows ``z`` (n, p), in
    mclust's order: what ``Mclust`` starts from where the data have no more rows than columns.

    The cost of merging groups i and j is the growth of the within-group sum of squares,
    :math:`n_i n_j / (n_i + n_j)\,\lVert\bar z_i - \bar z_j\rVert^2`, updated after each
    merge by Lance and Williams' formula, as mclust's Fortran ``hceii`` does (mclust 5.4.7 to
    6.1.3): the same arithmetic, so that tied costs (repeated rows) tie here too, and the
    same order of slots, so that the pair merged among tied ones is the one ``hceii`` picks
    (the last of the cheapest, columns outer, as in :func:`agglomerate`); labels as there.
    """
    n = z.shape[0]
    root_half = np.sqrt(1.0 / 2.0)
    cost = np.zeros((n, n))  # cost[i, j] of the groups in slots i and j
    v = np.empty((n, n))
    for c in range(z.shape[1]):  # ddot of v = (z_i, then dscal) + daxpy of z_j, i < j
        np.add(z[:, c, None] * root_half, (-root_half) * z[None, :, c], out=v)
        cost += np.multiply(v, v, out=v)  # summed left to right, as ddot
    lower = np.tril_indices(n)
    cost[lower] = cost.T[lower]
    np.fill_diagonal(cost, np.inf)
    count = np.ones(n)
    label = np.arange(n)
    minima = ColumnMinima(cost)
    merges = []
    for m in range(n, 1, -1):  # m groups, in slots 0..m-1
        j = m - 1 - int(np.argmin(minima.value[:m][::-1]))  # the last column holding the minimum
        i = int(minima.row[j])
        merges.append((int(min(label[i], label[j])), int(max(label[i], label[j]))))
        if m == 2:
            break
        lowest = cost[i, j]
        others = np.delete(np.arange(m), [i, j])
        ni, nj, nk = count[i], count[j], count[others]
        # hceii's (Lance-Williams) update, term for term
        new = (nk + ni) * cost[i, others] + (nk + nj) * cost[j, others]
        cost[i, others] = cost[others, i] = (new - nk * lowest) / (nk + (ni + nj))
        count[i] = ni + nj
        label[i] = min(label[i], label[j])
        last = m - 1
        if j != last:  # the group in the last slot moves into slot j, with its costs
            count[j], label[j] = count[last], label[last]
            cost[j, :last] = cost[last, :last]
            cost[:last, j] = cost[:last, last]
            cost[j, j] = np.inf
        cost[last, :] = cost[:, last] = np.inf
        minima.value[last] = np.inf
        minima.renewed(i, j, last)
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
    for the last few data sets (every structure and K of a selection cuts the same tree):
    VVV (:func:`agglomerate`) where n > d, else EII (:func:`ward`), as ``mclustBIC`` chooses.
    """
    rows = subset_rows(x.shape[0])
    sub = np.ascontiguousarray(x[rows], dtype=np.float64)
    # mclust's mclustBIC: the VVV tree (hcModelName) where there are more rows than columns,
    # else the EII one
    model = agglomerate if x.shape[0] > x.shape[1] else ward
    shape = str((sub.shape, model.__name__)).encode()
    key = hashlib.blake2b(sub.tobytes() + shape, digest_size=16).digest()
    if key in _CACHE:
        _CACHE.move_to_end(key)
        heads, merges_array = _CACHE[key]
        return rows, heads, [tuple(m) for m in merges_array.tolist()]
    z = svd_transform(sub)
    heads = np.arange(sub.shape[0]) if z.shape[1] else np.zeros(sub.shape[0], dtype=int)
    merges = model(z) if z.shape[1] else []
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


class ColumnMinima:
    """Column j's cheapest entry among rows i < j of a symmetric ``cost`` (slots 0..m-1): its
    value and the last row that has it (mclust's tie rule), kept as slots merge.

    Attributes
    ----------
    value : array of shape (n,), each column's cheapest entry.
    row : array of shape (n,), the last row holding it.
    """

    def __init__(self, cost: np.ndarray) -> None:
        n = cost.shape[0]
        self.cost = cost
        self.value = np.full(n, np.inf)
        self.row = np.zeros(n, dtype=int)
        self.scan(np.arange(n), n)

    def scan(self, columns: np.ndarray, m: int) -> None:
        """Find the minima of ``columns`` anew among slots 0..m-1, ``SCAN_COLUMNS`` at a
        time (the first scan, of every column, copied the whole cost matrix: 32 MB more at
        mclust's 2000 rows, the peak of a 3.6 M-row CLI fit)."""
        for at in range(0, columns.size, SCAN_COLUMNS):
            some = columns[at : at + SCAN_COLUMNS]
            block = self.cost[some, :m]  # column k's entries, read along row k (symmetric)
            block[np.arange(m) >= some[:, None]] = np.inf
            self.value[some] = block.min(axis=1)
            self.row[some] = m - 1 - block[:, ::-1].argmin(axis=1)

    def renewed(self, i: int, j: int, m: int) -> None:
        """After the costs of slots i and j changed (i < j, slots 0..m-1): columns i and j
        are new; a later column whose cached row was i or j is rescanned, any other compares
        its cached entry with rows i and j (a later row wins a tie)."""
        later = np.arange(i + 1, m)
        row = self.row[later]
        renew = (row == i) | ((row == j) & (later > j)) | (later == j)
        self.scan(np.concatenate([[i], later[renew]]), m)
        for r in (i, j):
            keep = later[~renew & (later > r)]
            value = self.cost[r, keep]
            cached = self.value[keep]
            better = (value < cached) | ((value == cached) & (r > self.row[keep]))
            self.value[keep[better]] = value[better]
            self.row[keep[better]] = r
