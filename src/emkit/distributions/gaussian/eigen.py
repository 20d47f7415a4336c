r"""M-steps of the eigen-decomposition family (Celeux and Govaert, 1995) as plain functions.

Every covariance :math:`\Sigma_k = \lambda_k D_k A_k D_k^\top` (volume :math:`\lambda`,
orientation :math:`D` orthogonal, shape :math:`A` diagonal with :math:`|A| = 1`) of one of
mclust's models is the minimiser, within the model, of

.. math:: f(\Sigma) = \sum_k \big[m_k \log|\Sigma_k| + \operatorname{tr}(B_k\Sigma_k^{-1})\big],

with :math:`B_k` the component's scatter (plus a prior's scale) and :math:`m_k` its weight
(plus a prior's power). The maximum-likelihood M-step is :math:`B_k = S_k`,
:math:`m_k = N_k`; the ridge and the normal-inverse-Wishart prior change only :math:`B, m`.

Closed forms: EII, VII, EEI, VVI, EVI, EEE, EEV, EVV, VVV. Iterative, each step lowering
:math:`f` (so an M-step started from the previous parameters is a generalised M-step and EM
still climbs): VEI, VEV (volumes and a shared shape alternately; Celeux and Govaert), VEE
(volumes and a shared shape-orientation matrix alternately), EVE and VVE (the shared
orientation by exact plane rotations of pairs of axes, alternating with the closed-form shapes
and volumes given the orientation; Browne and McNicholas, 2014, use a majorise-minimise step
for the orientation instead, which converges more slowly).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from emkit.backend.linalg import cholesky

INNER_TOL = 1e-8  # relative change of the parameters at which an inner iteration stops
INNER_MAX_ITER = 500
TINY = np.finfo(float).tiny


def _safe(m: np.ndarray) -> np.ndarray:
    return np.maximum(m, TINY)


def _geometric_mean(values: np.ndarray) -> np.ndarray:
    """(prod_j v_j)^(1/d) over the last axis, 0 where any v_j is 0."""
    clipped = np.maximum(values, 0.0)
    if clipped.all():  # no log(0) to silence: errstate costs more than the log here
        logs = np.log(clipped)
    else:
        with np.errstate(divide="ignore"):
            logs = np.log(clipped)
    # np.mean's sum and division, without its Python layers (the same bits)
    return np.exp(np.add.reduce(logs, axis=-1) / values.shape[-1])


def _unit_det(values: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """Diagonal ``values`` (..., d) scaled to a product of 1 (left as they are where 0);
    ``mean``: their :func:`_geometric_mean`, where the caller has it."""
    g = (_geometric_mean(values) if mean is None else mean)[..., None]
    if (g > 0).all():  # the same quotients without the copy the mask needs
        return values / g
    return np.divide(values, g, out=values.copy(), where=g > 0)


def _floor(b: np.ndarray, m: np.ndarray) -> float:
    """A variance below which an iterative solver treats a value as zero: 1e-250 of the largest
    average variance of a non-empty component, so that 1 / value stays finite on singular
    scatter while any variance a ridge or the data can produce stays above it."""
    trace = b.sum(axis=1) if b.ndim == 2 else b.trace(0, 1, 2)
    held = m > 1e-10 * max(m.sum(), TINY)
    if not held.any():
        return TINY
    scale = float((trace[held] / (b.shape[1] * m[held])).max())
    return max(1e-250 * scale, TINY) if np.isfinite(scale) else TINY


def _column_units(b: np.ndarray) -> np.ndarray:
    """Powers of two (d,) nearest the square roots of the pooled scatter's diagonal (1 where
    a feature has no scatter): dividing the features by them changes no bit of a value, and
    brings every feature to a spread near 1."""
    pooled = b.sum(axis=0)
    diagonal = pooled if pooled.ndim == 1 else pooled.diagonal()
    usable = (diagonal > 0) & np.isfinite(diagonal)
    exponent = np.round(0.5 * np.log2(np.where(usable, diagonal, 1.0)))
    return np.where(usable, np.exp2(exponent), 1.0)


def _in_units(solver: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    r"""``solver`` run on scatters in the features' own units (:func:`_column_units`, the
    scale :math:`S`), its covariances taken back: :math:`S\,\Sigma'(S^{-1}BS^{-1})\,S`.

    Exact for a structure whose family a diagonal change of units maps onto itself (VEE,
    EVV; any structure with one component, where it is VVV): the minimiser of :math:`f` on
    :math:`S^{-1}BS^{-1}` is :math:`S^{-1}\Sigma S^{-1}`, so the answer is the solver's, but
    its eigen-decompositions and its tests of conditioning read the features on one scale.
    On the data's own units a feature at 1e-9 of another's scale has eigenvalues 1e-18 of the
    largest, below the absolute rounding of an eigen-decomposition (eps of the largest): EVV
    composed a covariance singular in that feature and VEE took its shared matrix for
    singular, both flagged degenerate on regular data."""

    @functools.wraps(solver)
    def solve(b: np.ndarray, m: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
        units = _column_units(b)
        square = np.outer(units, units)
        if start is not None:
            start = start / square
        covariances = solver(b / square, m) if start is None else solver(b / square, m, start)
        return covariances * square

    return solve


def _one_is_vvv(solver: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """``solver``, but :func:`vvv` for one component: every full structure is VVV there
    (EVE's and VVE's orientation is the scatter's eigenvectors, EEV's and VEV's shape its
    eigenvalues), and the closed form reads no eigen-decomposition, which on features of
    scales 1e9 apart loses the smaller ones' eigenvalues (:func:`_in_units`). With more
    components these structures are not closed under a change of each feature's units:
    their fits depend on the units, as mclust's do."""

    @functools.wraps(solver)
    def solve(b: np.ndarray, m: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        if b.shape[0] == 1:
            return vvv(b, m)
        return solver(b, m, *args, **kwargs)

    return solve


def _iterate(step: Callable[[], np.ndarray]) -> None:
    """Run ``step`` (one pass, returning the parameters it updated as one array) until the
    parameters stop moving: a relative change below ``INNER_TOL``, so that the answer does not
    depend on where the iteration started."""
    previous = None
    # ndarray methods and ufuncs, not np.all / np.max: the same bits without their Python
    # layers, which cost more than the arithmetic on these few numbers (EVE's and VVE's
    # M-steps run this loop some ten times per EM step of each fit)
    for _ in range(INNER_MAX_ITER):
        current = step()
        if not np.isfinite(current).all():
            return
        if previous is not None:
            change = np.abs(current - previous).max()
            if change <= INNER_TOL * max(float(np.abs(current).max()), TINY):
                return
        previous = current


# --- diagonal models: B (k, d) per-feature scatter --------------------------------------
def eii(b: np.ndarray, m: np.ndarray) -> np.ndarray:
    """EII: one variance for every feature and component; ``m`` (k,) counts each log
    sigma^2 once per feature (m_k = d N_k for the likelihood). Returns (k,)."""
    value = b.sum() / _safe(m.sum())
    return np.full(b.shape[0], value)


def eei(b: np.ndarray, m: np.ndarray) -> np.ndarray:
    """EEI: one diagonal covariance for all components, (k, d)."""
    pooled = b.sum(axis=0) / _safe(m.sum())
    return np.broadcast_to(pooled, b.shape).copy()


def evi(b: np.ndarray, m: np.ndarray) -> np.ndarray:
    """EVI: equal volume, shapes per component, axis-aligned, (k, d)."""
    g = _geometric_mean(b)  # (k,)
    volume = g.sum() / _safe(m.sum())
    return volume * _unit_det(b, g)


def vvi(b: np.ndarray, m: np.ndarray) -> np.ndarray:
    """VVI: per component diagonal, (k, d)."""
    return b / _safe(m)[:, None]


def vei(b: np.ndarray, m: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    r"""VEI: volumes per component, one shape, axis-aligned, (k, d).

    Alternates :math:`A \propto \sum_k B_k/\lambda_k` (:math:`|A| = 1`) and
    :math:`\lambda_k = \operatorname{tr}(B_k A^{-1}) / (d m_k)`, from ``start`` (k, d) (the
    previous covariances) or from the pooled shape.
    """
    d = b.shape[1]
    ms = _safe(m)
    floor = _floor(b, ms)
    if start is None:
        shape = _unit_det(np.maximum(b.sum(axis=0), floor))
    else:
        shape = np.exp(np.mean(np.log(np.maximum(start, floor)), axis=0))
    shape = _unit_det(np.maximum(shape, floor))
    state = {"shape": shape, "volume": (b / shape).sum(axis=1) / (d * ms)}

    def step() -> np.ndarray:
        volume = np.maximum((b / state["shape"]).sum(axis=1) / (d * ms), floor)
        shape = _unit_det(np.maximum((b / volume[:, None]).sum(axis=0), floor))
        volume = np.maximum((b / shape).sum(axis=1) / (d * ms), floor)
        state["shape"], state["volume"] = shape, volume
        return volume[:, None] * shape

    _iterate(step)
    return state["volume"][:, None] * state["shape"]


# --- full models: B (k, d, d) ------------------------------------------------------------
def eee(b: np.ndarray, m: np.ndarray) -> np.ndarray:
    """EEE: one covariance for all components, (k, d, d)."""
    pooled = b.sum(axis=0) / _safe(m.sum())
    return np.broadcast_to(pooled, b.shape).copy()


def vvv(b: np.ndarray, m: np.ndarray) -> np.ndarray:
    """VVV: per component covariance, (k, d, d)."""
    return b / _safe(m)[:, None, None]


def _eigh_descending(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eigh(b)
    return np.maximum(values[..., ::-1], 0.0), vectors[..., ::-1]


def _compose(vectors: np.ndarray, values: np.ndarray) -> np.ndarray:
    """D diag(values) D^T for (k, d, d) orientations and (k, d) values."""
    out = np.einsum("kij,kj,klj->kil", vectors, values, vectors)
    return 0.5 * (out + np.swapaxes(out, 1, 2))


@_in_units
def evv(b: np.ndarray, m: np.ndarray) -> np.ndarray:
    """EVV: equal volume, shape and orientation per component, (k, d, d)."""
    values, vectors = _eigh_descending(b)
    g = _geometric_mean(values)  # |B_k|^{1/d}
    volume = g.sum() / _safe(m.sum())
    return _compose(vectors, volume * _unit_det(values, g))


def flat_components(own: np.ndarray, m: np.ndarray, pooled: np.ndarray) -> np.ndarray:
    r"""EEV's components of (numerically) zero scatter, bool (k,): one row, whatever else
    its responsibilities hold below rounding. :math:`\operatorname{tr}(S_k) \le 10^{-10} m_k`
    times the smallest shared variance ``pooled`` (d,) (descending), so that
    :math:`\operatorname{tr}(S_k\Sigma_k^{-1})` is below :math:`10^{-10} m_k` in any
    orientation; ``own`` (k, d, d): the scatters without a ridge."""
    return cast(np.ndarray, own.trace(0, 1, 2) <= 1e-10 * m * pooled[-1])


@_one_is_vvv
def eev(b: np.ndarray, m: np.ndarray, own: np.ndarray | None = None) -> np.ndarray:
    r"""EEV: equal volume and shape, orientation per component, (k, d, d).

    Each orientation is its scatter's eigenvectors, largest eigenvalue with the largest entry
    of the shared :math:`\lambda A`. ``own`` (k, d, d): the components' scatters as the
    statistics hold them, without a ridge and with nothing rounded away; with it, a
    component of zero scatter (:func:`flat_components`: one row), in which :math:`f` is flat
    in its orientation, is oriented as mclust's ``meeev`` orients it (the singular vectors of
    its rows' deviations, weighted by their responsibilities): by the eigenvectors of
    ``own``, which holds only the rows of responsibility below rounding (1e-35 of those
    nearest under its current density: the direction in which it can take a row), and by
    the coordinate axes, largest variance first, where ``own`` is zero (a hard start; LAPACK's
    SVD of a zero matrix). Any other orientation there (eigh's basis of the ridge, the
    second moment of all rows about its mean) leaves EM on a plateau where that component
    never takes another row (EuroUnemployment, K = 7 from mclust's hc start: -183.79 against
    mclust's -165.74).
    """
    values, vectors = _eigh_descending(b)
    pooled = values.sum(axis=0) / _safe(m.sum())  # lambda A, eigenvalues paired largest first
    if own is not None:
        flat = flat_components(own, m, pooled)
        if flat.any():
            vectors = vectors.copy()
            spread = own[flat]
            vectors[flat] = np.where(
                np.any(spread != 0.0, axis=(1, 2))[:, None, None],
                _eigh_descending(spread)[1],
                np.eye(b.shape[1]),
            )
    return _compose(vectors, np.broadcast_to(pooled, values.shape))


@_one_is_vvv
def vev(b: np.ndarray, m: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """VEV: volumes per component, one shape, orientations per component, (k, d, d).

    The optimal orientation of each component is its scatter's eigenvectors (largest
    eigenvalue with the largest shape entry, whatever the shape), so the volumes and shape
    are VEI's on the scatter's eigenvalues.
    """
    values, vectors = _eigh_descending(b)
    if start is not None:
        start = np.linalg.eigvalsh(start)[:, ::-1]
    return _compose(vectors, vei(values, m, start))


def _triangle(stacked: np.ndarray) -> np.ndarray:
    """The upper triangle R (d, d) of the QR factorisation of ``stacked`` (n, d): R^T R is
    stacked^T stacked."""
    return cast(np.ndarray, np.linalg.qr(stacked, mode="r"))


@_in_units
def vee(b: np.ndarray, m: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    r"""VEE: volumes per component, one shape and orientation :math:`C` (:math:`|C| = 1`).

    Alternates :math:`C \propto \sum_k B_k/\lambda_k` and
    :math:`\lambda_k = \operatorname{tr}(B_k C^{-1})/(d m_k)`, on square roots: with
    :math:`B_k = R_k^\top R_k`, :math:`C = U^\top U` is the triangle of a QR factorisation of
    the stacked :math:`R_k/\sqrt{\lambda_k}` and the traces are
    :math:`\lVert R_k U^{-1}\rVert_F^2`. Formed as sums and inverses, the small eigenvalues of
    an ill-conditioned :math:`C` (a singular scatter held up by a small ridge) would carry a
    relative error of eps over their share of the largest (1e-4 at 1e-12), new at every pass,
    and the volumes would never settle; square roots halve the loss (1e-10).

    Raises LinAlgError where :math:`C` is singular (an eigenvalue at most 1e-15 of the
    largest): a direction where every scatter is singular gives the objective no minimum,
    and the ridge must rise (see ``Constrained._covariances_from_stats``). A held component
    whose volume falls to the floor (a zero scatter: one row) gets NaN for the same reason.
    """
    k, d, _ = b.shape
    ms = _safe(m)
    floor = _floor(b, ms)
    values, vectors = np.linalg.eigh(b)
    roots = np.sqrt(np.maximum(values, 0.0))[:, :, None] * np.swapaxes(vectors, 1, 2)

    def unit_factor(factor: np.ndarray) -> np.ndarray:
        """The upper factor U of C = U^T U scaled to |C| = 1."""
        singular = np.linalg.svd(factor, compute_uv=False)
        if not singular[-1] ** 2 > 1e-15 * singular[0] ** 2:
            raise np.linalg.LinAlgError("the pooled scatter is singular")
        logdet = np.add.reduce(np.log(np.abs(factor.diagonal())))
        return factor / np.exp(logdet / d)

    def volumes(factor: np.ndarray) -> np.ndarray:
        # LU of a triangle pivots nowhere: np.linalg.inv is back substitution here.
        inverse = np.linalg.inv(factor)
        return np.maximum(((roots @ inverse) ** 2).sum(axis=(1, 2)) / (d * ms), floor)

    if start is None:
        factor = _triangle(roots.reshape(k * d, d))
    else:
        factor = np.linalg.cholesky(start.mean(axis=0)).T
    state = {"u": unit_factor(factor), "volume": np.ones(k)}

    def step() -> np.ndarray:
        volume = volumes(state["u"])
        stacked = (roots / np.sqrt(volume)[:, None, None]).reshape(k * d, d)
        u = unit_factor(_triangle(stacked))
        volume = volumes(u)
        state["u"], state["volume"] = u, volume
        return volume[:, None, None] * (u.T @ u)

    _iterate(step)
    c = state["u"].T @ state["u"]
    covariances = state["volume"][:, None, None] * (0.5 * (c + c.T))
    # A held component's volume at the floor: its scatter is zero (one row), f falls without
    # bound as that volume goes to 0, and the solver reports none (NaN), so that the ridge
    # rises as for a singular VVV covariance; an emptied one is the caller's to keep.
    held = m > 1e-10 * max(float(m.sum()), TINY)
    covariances[held & (state["volume"] <= floor)] = np.nan
    return covariances


def _disjoint_pairs(d: int) -> list[tuple[Any, ...]]:
    """The d (d - 1) / 2 pairs of axes in d - 1 rounds (d if d is odd) of disjoint pairs: the
    round-robin (circle) schedule, one axis fixed and the others turning one place a round.

    Each round is ``(i, j, ij, half, entries)``: the pairs' axes; the flat indices of the
    entries (i, j) of a d x d matrix; ``half`` (p, d * d), whose product with flattened
    matrices is half of (i, i) - (j, j) for each pair, exactly (the only nonzero terms are
    0.5 x and -0.5 y); and the flat indices of (i, i), (j, j), (j, i), (i, j), in that order.
    """
    players = list(range(d)) + ([-1] if d % 2 else [])  # -1: the bye of an odd d
    n = len(players)
    rounds: list[tuple[np.ndarray, ...]] = []
    for _ in range(n - 1):
        pairs = [(players[t], players[n - 1 - t]) for t in range(n // 2)]
        pairs = [(min(p), max(p)) for p in pairs if -1 not in p]
        if pairs:
            i, j = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
            ii, jj, ij, ji = i * (d + 1), j * (d + 1), i * d + j, j * d + i
            half = np.zeros((len(pairs), d * d))
            half[np.arange(len(pairs)), ii] = 0.5
            half[np.arange(len(pairs)), jj] = -0.5
            rounds.append((i, j, ij, half, np.concatenate((ii, jj, ji, ij))))
        players = [players[0], players[-1], *players[1:-1]]
    return rounds


@functools.lru_cache(maxsize=64)
def _schedule(d: int) -> tuple[list[tuple[Any, ...]], np.ndarray, np.ndarray]:
    """:func:`_disjoint_pairs` of ``d`` (made once per dimension: every M-step of a fit
    reuses it), with every round's first and second axes concatenated in round order, so that
    a sweep finds the weights of all its pairs in one subtraction."""
    rounds = _disjoint_pairs(d)
    first = np.concatenate([r[0] for r in rounds]) if rounds else np.zeros(0, int)
    second = np.concatenate([r[1] for r in rounds]) if rounds else np.zeros(0, int)
    return rounds, first, second


def _common_orientation(
    b: np.ndarray,
    m: np.ndarray,
    diagonal: Callable[[np.ndarray], np.ndarray],
    start: np.ndarray | None,
) -> np.ndarray:
    r"""Covariances :math:`D\,\mathrm{diag}(\cdot)_k D^\top` with one orientation ``D``.

    ``diagonal(M)`` maps the diagonals of the rotated scatters :math:`M_k = D^\top B_k D`
    ((k, d)) to the optimal diagonal covariances given ``D`` (EVE: EVI's; VVE: VVI's). Given
    those, with :math:`\Psi_k` their inverses, ``D`` lowers
    :math:`\sum_k \operatorname{tr}(B_k D\Psi_k D^\top)` by one sweep of plane rotations of
    each pair of its columns, each by the angle that minimises the objective exactly (in the
    plane of columns i, j it is :math:`a + A\cos 2\phi + C\sin 2\phi`), as in Flury and
    Gautschi's algorithm for common principal components. Both steps lower :math:`f`.
    """
    d = b.shape[1]
    ms = _safe(m)
    # A held component's scatter singular (as a VVV covariance would be: linalg.cholesky's
    # test) gives the objective no minimum: a column of D along its null space lets that
    # variance, and f, fall without bound. LinAlgError, so that the ridge rises
    # (Constrained._covariances_from_stats); the rotations would only chase the limit.
    cholesky(b[m > 1e-10 * max(float(m.sum()), TINY)])
    pooled = b.sum(axis=0) if start is None else start.mean(axis=0)
    orientation = np.linalg.eigh(pooled)[1]
    floor = _floor(b, ms)
    rounds, first, second = _schedule(d)
    identity = np.eye(d)
    add = np.add.reduce  # ndarray.sum without its Python layers: the same bits
    state: dict[str, Any] = {"d": orientation, "diag": None}
    # Square roots R_k (B_k = R_k^T R_k): the rotated scatters are Gram matrices of R_k D,
    # whose diagonals are sums of squares, exact to a few eps of themselves. As products
    # D^T B_k D they would be exact only to eps |B_k|: on a scatter of rank below d (fewer
    # rows than features) held up by a small ridge, its variances across the null space
    # come out with a relative error of eps |B_k| / ridge (1e-4 at 1e-12 of the scale),
    # new at every sweep, and the orientation and shapes never settle.
    values, vectors = np.linalg.eigh(b)
    roots = np.sqrt(np.maximum(values, 0.0))[:, :, None] * np.swapaxes(vectors, 1, 2)

    k = len(b)
    # Each round's slice of the sweep's weights, made once: the sweep runs some ten times
    # per M-step, each round a dozen operations on a few numbers, where NumPy's Python
    # layers (np.swapaxes, np.diagonal, np.where) cost more than the arithmetic. The
    # methods and views below give the same bits.
    # Each round's rotation G is written into its own identity matrix (only the round's
    # entries change; G is read by two products and dropped before the next sweep writes it).
    spans = []
    begin = 0
    for i, _, ij, half, entries in rounds:
        g = identity.copy()
        spans.append((slice(begin, begin + len(i)), ij, half, entries, g, g.reshape(-1)))
        begin += len(i)

    def step() -> np.ndarray:
        o = state["d"]
        factor = roots @ o  # R_k D, (k, d, d)
        rotated = factor.transpose(0, 2, 1) @ factor  # D^T B_k D, (k, d, d)
        diag = np.maximum(diagonal(rotated.diagonal(0, 1, 2)), floor)
        psi = 1.0 / diag  # (k, d)
        weights = psi[:, first] - psi[:, second]  # (k, pairs): psi fixed for the sweep
        for span, ij, half, entries, g, g_flat in spans:
            # Rotations of disjoint pairs of axes touch disjoint rows and columns: each
            # one's angle is that of the same rotation made alone, so a round is one product.
            flat = rotated.reshape(k, d * d)
            weight = weights[:, span]  # psi_i - psi_j, (k, p)
            # 0.5 sum_k w (M_ii - M_jj), with half of M_ii - M_jj in (k, p) of Fortran
            # order, as flat[:, ii] - flat[:, jj] has: the sum over components then runs
            # in the same order (pairwise from 8 components on), to the last bit.
            a = add(weight * (half @ flat.T).T, axis=0)
            c = add(weight * flat[:, ij], axis=0)
            phi = 0.5 * np.arctan2(-c, -a)
            if not a.all():  # no turn where the plane's objective is flat (a = c = 0)
                phi[(a == 0.0) & (c == 0.0)] = 0.0
            cos, sin = np.cos(phi), np.sin(phi)
            # New axes c d_i + s d_j and -s d_i + c d_j: D G and G^T (D^T B_k D) G.
            g_flat[entries] = np.concatenate((cos, cos, sin, -sin))
            factor = factor @ g
            rotated = factor.transpose(0, 2, 1) @ factor
            o = o @ g
        diag = np.maximum(diagonal(rotated.diagonal(0, 1, 2)), floor)
        state["d"], state["diag"] = o, diag
        return (o * diag[:, None, :]) @ o.T

    _iterate(step)
    vectors = np.broadcast_to(state["d"], b.shape)
    covariances = _compose(vectors, state["diag"])
    # A variance held at the floor: the scatter is singular in that direction, the objective
    # has no minimum (it falls without bound as the variance goes to 0), and the solver
    # reports none (NaN) so that the ridge rises, as a singular unconstrained estimate does.
    covariances[np.any(state["diag"] <= floor, axis=1)] = np.nan
    return covariances


@_one_is_vvv
def eve(b: np.ndarray, m: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """EVE: equal volume, shapes per component, one orientation, (k, d, d)."""
    return _common_orientation(b, m, lambda diag: evi(diag, m), start)


@_one_is_vvv
def vve(b: np.ndarray, m: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """VVE: volumes and shapes per component, one orientation, (k, d, d)."""
    return _common_orientation(b, m, lambda diag: vvi(diag, m), start)


def objective(covariances: np.ndarray, b: np.ndarray, m: np.ndarray) -> float:
    r""":math:`f(\Sigma)` of full covariances (k, d, d) (for tests and checks)."""
    sign, logdet = np.linalg.slogdet(covariances)
    trace = np.einsum("kij,kji->k", b, np.linalg.inv(covariances))
    return float(np.sum(m * logdet + trace))
