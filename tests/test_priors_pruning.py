"""MAP (Dirichlet weights, normal-inverse-Wishart components), hard EM and pruning on the
one EM loop: the objective never decreases except at recorded pruning steps."""

import warnings

import numpy as np
import pytest

from emkit.backend.sources import ArrayChunks
from emkit.distributions.gaussian import covariance_structure
from emkit.distributions.gaussian.stats import GaussianStats
from emkit.distributions.normal import Normal
from emkit.distributions.priors import NormalInverseWishart
from emkit.em import run_em
from emkit.estimators.mixture_model import MixtureModel
from emkit.init import components_from_responsibilities, initial_responsibilities
from emkit.models.mixture import Mixture

STRUCTURES = ["full", "tied", "diag", "spherical"]
# Every structure reads the normal-inverse-Wishart prior as mclust's EM does for its model.
PRIOR_STRUCTURES = STRUCTURES + [
    "EII", "EEI", "VEI", "EVI", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV",
]  # fmt: skip


def _annulus(n=900, seed=0):
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = rng.uniform(3.0, 4.0, n)
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])


def _start(x, k, name, seed=0, reg=1e-6):
    structure = covariance_structure(name)
    resp = initial_responsibilities(x, k, "k-means++", np.random.RandomState(seed))
    return components_from_responsibilities(structure, x, resp, reg)


def _objective(x, resp, components, prior, reg):
    """Expected complete-data log-likelihood of the components plus their log prior."""
    return float(np.sum(resp * components.log_prob(x))) + prior.log_density(components, reg)


@pytest.mark.parametrize("name", PRIOR_STRUCTURES)
def test_niw_map_step_maximises_the_expected_log_posterior(faithful, name):
    rng = np.random.default_rng(0)
    x = faithful
    resp = rng.dirichlet([1.0, 1.0, 1.0], size=x.shape[0])
    structure = covariance_structure(name)
    stats = GaussianStats.from_data(x, resp, structure.diagonal_stats)
    prior = NormalInverseWishart.mclust(x, 3, name)
    _, start = _start(x, 3, name)
    reg = 1e-3
    best = prior.m_step(start, stats, reg)
    value = _objective(x, resp, best, prior, reg)
    # Nearby components of the same structure: the unconstrained parameters moved a little,
    # then projected into the model.
    vector = best.to_vector()
    k, d = best.means.shape
    step = np.concatenate([np.tile(0.01 * x.std(axis=0), k), np.full(vector.size - k * d, 0.02)])
    for size in np.repeat([1.0, 0.1, 0.01], 10):
        trial = best.from_vector(vector + size * step * rng.normal(size=vector.size))
        assert _objective(x, resp, trial, prior, reg) <= value + 1e-9 * abs(value)


@pytest.mark.parametrize("name", PRIOR_STRUCTURES)
@pytest.mark.parametrize("assignment", ["soft", "hard"])
def test_map_history_never_decreases_and_is_the_log_posterior(faithful, name, assignment):
    weights, components = _start(faithful, 4, name)
    prior = NormalInverseWishart.mclust(faithful, 4, name)
    model = Mixture(
        weights,
        components,
        1e-6,
        assignment=assignment,
        weight_concentration=2.0,
        component_prior=prior,
    )
    result = run_em(model, ArrayChunks(faithful), tol=1e-10, max_iter=500, total_weight=272.0)
    assert result.structure_changes == ()
    assert np.all(np.diff(result.history) >= -1e-10 * abs(result.history[-1]))
    final = result.model
    log_prior = np.sum(np.log(final.weights)) + prior.log_density(final.components, 1e-6)
    if assignment == "soft":
        np.testing.assert_allclose(
            result.history[-1], final.log_resp(faithful)[1].sum() + log_prior, rtol=1e-12
        )


def test_prior_keeps_a_collapsing_component_non_singular():
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(size=(50, 2)), np.tile([[5.0, 5.0]], (6, 1))])  # duplicate rows
    weights, components = _start(x, 2, "full")
    prior = NormalInverseWishart.mclust(x, 2)
    model = Mixture(weights, components, 0.0, component_prior=prior)
    result = run_em(model, ArrayChunks(x), tol=1e-10, max_iter=500, total_weight=56.0)
    eig = np.linalg.eigvalsh(result.model.components.covariances)
    assert eig.min() > 1e-3 * np.linalg.eigvalsh(prior.scale).min()


def test_an_emptied_vev_component_keeps_its_covariance(faithful):
    # mclust's VEV prior gives the volumes no power: a component without rows has no mode (its
    # volume would be infinite) and stays as it was, inert, as without a prior.
    x = faithful
    weights, components = _start(x, 3, "VEV")
    prior = NormalInverseWishart.mclust(x, 3, "VEV")
    resp = np.zeros((x.shape[0], 3))
    resp[:150, 0] = resp[150:, 1] = 1.0
    stats = GaussianStats.from_data(x, resp, diagonal=False)
    step = prior.m_step(components, stats, 0.0)
    np.testing.assert_array_equal(step.covariances[2], components.covariances[2])
    assert np.all(np.linalg.eigvalsh(step.covariances[:2]) > 0)


def test_pruning_annulus_keeps_fewer_components_and_records_the_steps():
    x = _annulus()
    weights, components = _start(x, 30, "full")
    model = Mixture(weights, components, 1e-6, prune_weight=0.02)
    result = run_em(model, ArrayChunks(x), tol=1e-8, max_iter=3000, total_weight=900.0)
    k = result.model.n_components
    assert 5 <= k < 30
    assert len(result.structure_changes) > 0
    history, changes = result.history, set(result.structure_changes)
    for i in range(1, len(history)):
        if i not in changes:
            assert history[i] >= history[i - 1] - 1e-10 * abs(history[i - 1])
    assert np.all(result.model.weights >= 0.02)
    # A good fit: BIC (lower is better) beats the 30-component fit it started as.
    full = run_em(
        Mixture(weights, components, 1e-6),
        ArrayChunks(x),
        tol=1e-8,
        max_iter=3000,
        total_weight=900.0,
    )

    def bic(res):
        kk = res.model.n_components
        return -2 * res.log_likelihood + (kk - 1 + kk * 5) * np.log(900)

    assert bic(result) < bic(full)


def test_sparse_dirichlet_removes_components_whose_count_vanishes(faithful):
    weights, components = _start(faithful, 8, "spherical")
    model = Mixture(weights, components, 1e-6, weight_concentration=0.05)
    result = run_em(model, ArrayChunks(faithful), tol=1e-10, max_iter=2000, total_weight=272.0)
    changes = set(result.structure_changes)
    for i in range(1, len(result.history)):
        if i not in changes:
            assert result.history[i] >= result.history[i - 1] - 1e-9 * abs(result.history[i])
    assert np.all(result.model.weights > 0)


def test_mixture_model_prunes_and_reports_structure_changes():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, 300), rng.normal(6, 1, 300)])[:, None]
    model = MixtureModel([Normal()] * 8, prune_weight=0.05, random_state=0).fit(x)
    assert model.weights_.shape[0] < 8 and len(model.components_) == model.weights_.shape[0]
    assert model.structure_changes_.size > 0
    keep = np.setdiff1d(np.arange(1, len(model.history_)), model.structure_changes_)
    assert np.all(model.history_[keep] >= model.history_[keep - 1] - 1e-9)


def _three_clusters(d=2, n=200, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[-6.0, 0.0], [6.0, 0.0], [0.0, 9.0]])[:, :d]
    return np.concatenate([rng.normal(c, 1.0, (n, d)) for c in centres])


def test_pruning_below_the_components_asked_for_warns_how_many_and_why():
    # Three equal clusters, five components: k-means++ starts each near 1/5 of the rows,
    # every weight is under prune_weight=0.3 at once and EM keeps only the heaviest. A user
    # who asked for five is told that four went and why (scikit-learn's
    # BayesianGaussianMixture and mclust never drop a component, so nothing else would say).
    from emkit import GaussianMixture

    x = _three_clusters()
    with pytest.warns(UserWarning, match="removed 4 of the 5 components") as caught:
        gm = GaussianMixture(5, prune_weight=0.3, random_state=0).fit(x)
    assert len(gm.weights_) == 1 and gm.structure_changes_ == (1,)
    message = next(str(w.message) for w in caught if "removed" in str(w.message))
    assert "prune_weight=0.3" in message and "at most 3 of 5 stay" in message
    assert "the fit holds 1" in message and "[1]" in message
    # Below 1/5 the three clusters keep their components, and nothing is removed or said.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        kept = GaussianMixture(3, prune_weight=0.3, random_state=0).fit(x)
    np.testing.assert_allclose(np.sort(kept.weights_), [1 / 3] * 3, atol=0.01)


@pytest.mark.parametrize(
    "options, why",
    [
        ({"prune_weight": 0.3}, "weight falls below prune_weight=0.3"),
        ({"assignment": "hard"}, 'assignment="hard" empties'),
    ],
)
def test_mixture_model_warns_the_components_it_removed(options, why):
    x = _three_clusters(d=1)
    with pytest.warns(UserWarning, match="components asked for") as caught:
        model = MixtureModel([Normal()] * 5, random_state=0, **options).fit(x)
    removed = 5 - len(model.weights_)
    assert removed > 0
    message = next(str(w.message) for w in caught if "asked for" in str(w.message))
    assert f"removed {removed} of the 5" in message and why in message


def test_a_warm_start_that_removes_nothing_does_not_warn_again():
    # The fit that removed the components warned; its warm-started continuation, with pruning
    # off, removes none and says nothing (it gave a message with its reasons left empty).
    from emkit import GaussianMixture, PrunedWarning

    x = _three_clusters()
    with pytest.warns(PrunedWarning):
        gm = GaussianMixture(6, prune_weight=0.2, random_state=0).fit(x)
    held = len(gm.weights_)
    assert held < 6
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrunedWarning)
        gm.set_params(warm_start=True, prune_weight=0.0).fit(x)
    assert len(gm.weights_) == held and gm.structure_changes_ == ()


def test_select_mixture_warns_once_for_the_grids_pruned_fits():
    # Each pruned fit of the grid warned (twice for refined ones); the selection now warns
    # once, naming the fits that hold fewer components than their row's n_components.
    from emkit import PrunedWarning, select_mixture

    x = _three_clusters()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sel = select_mixture(
            x, n_components=range(1, 7), covariance_types=["VVV", "EEE"], prune_weight=0.2
        )
    pruned = [w for w in caught if issubclass(w.category, PrunedWarning)]
    held = {key: len(m.weights_) for key, m in sel.models_.items() if len(m.weights_) < key[0]}
    assert held and len(pruned) == 1
    message = str(pruned[0].message)
    assert f"in {len(held)} of the 12 fits" in message
    for (k, cov), n in list(held.items())[:6]:
        assert f"{cov} K={k} holds {n}" in message
