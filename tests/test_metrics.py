"""Tests of the synthetic-data quality metrics with known answers."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import MinMaxScaler

from skteam.metrics import alpha_precision_beta_recall, detection_score


def _two_modes(rng, n):
    return np.vstack([rng.normal(-5, 1, (n // 2, 2)), rng.normal(5, 1, (n // 2, 2))])


def _synthcity_naive(X, X_syn):
    """synthcity 0.2.12 ``AlphaPrecision.metrics`` (integrated scores), restated."""
    alphas = np.linspace(0, 1, 30)
    center = X.mean(axis=0)
    radii = np.quantile(np.sqrt(((X - center) ** 2).sum(axis=1)), alphas)
    syn_d = np.sqrt(((X_syn - center) ** 2).sum(axis=1))
    rr = NearestNeighbors(n_neighbors=2).fit(X).kneighbors(X)[0][:, 1]
    rs, idx = NearestNeighbors(n_neighbors=1).fit(X_syn).kneighbors(X)
    rs, idx = rs.squeeze(), idx.squeeze()
    d = np.sqrt(((X_syn[idx] - X_syn.mean(axis=0)) ** 2).sum(axis=1))
    q = np.quantile(d, alphas)
    prec = [np.mean(syn_d <= r) for r in radii]
    cov = [np.mean((rs <= rr) * (d <= qk)) for qk in q]
    return (
        1 - np.abs(alphas - prec).sum() / alphas.sum(),
        1 - np.abs(alphas - cov).sum() / alphas.sum(),
    )


# ---------------------------------------------------------------- detection


def test_detection_identical_distributions_near_half():
    rng = np.random.RandomState(0)
    real, syn = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    assert abs(detection_score(real, syn, random_state=0) - 0.5) < 0.1


def test_detection_disjoint_distributions_near_one():
    rng = np.random.RandomState(1)
    real, syn = rng.normal(size=(150, 3)), rng.normal(4, 1, size=(150, 3))
    assert detection_score(real, syn, random_state=0) > 0.95


def test_detection_mixed_types_estimator_list_and_reproducible():
    rng = np.random.RandomState(2)
    real = pd.DataFrame(
        {"x": rng.normal(size=120), "c": rng.choice(["a", "b"], 120, p=[0.9, 0.1])}
    )
    syn = pd.DataFrame(
        {"c": rng.choice(["a", "b"], 120, p=[0.1, 0.9]), "x": rng.normal(size=120)}
    )
    est = [LogisticRegression(), LogisticRegression(C=0.1)]
    s1 = detection_score(real, syn, estimator=est, cv=3, random_state=0)
    s2 = detection_score(real, syn, estimator=est, cv=3, random_state=0)
    assert s1 == s2 and s1 > 0.8
    # tiny tables: the number of folds shrinks to the smaller table
    small = detection_score(real.iloc[:3], syn.iloc[:10], random_state=0)
    assert 0.0 <= small <= 1.0


def test_detection_no_global_state_and_errors():
    rng = np.random.RandomState(3)
    real, syn = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    np.random.seed(5)
    before = np.random.get_state()[1].copy()
    detection_score(real, syn, estimator=LogisticRegression(), random_state=None)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    with pytest.raises(ValueError):
        detection_score(real, syn, cv=1)
    with pytest.raises(ValueError):
        detection_score(real, syn[:, :1])
    with pytest.raises(ValueError):
        detection_score(np.r_[real, [[np.nan, 0]]], syn)


# ---------------------------------------------------------------- alpha / beta


def test_alpha_beta_matches_synthcity_definition():
    rng = np.random.RandomState(4)
    real, syn = rng.normal(size=(200, 3)), rng.normal(0.5, 1.2, size=(150, 3))
    scaler = MinMaxScaler().fit(real)
    expected = _synthcity_naive(scaler.transform(real), scaler.transform(syn))
    np.testing.assert_allclose(alpha_precision_beta_recall(real, syn), expected)


def test_alpha_beta_identical_distributions():
    rng = np.random.RandomState(5)
    real, syn = rng.normal(size=(400, 3)), rng.normal(size=(400, 3))
    a, b = alpha_precision_beta_recall(real, syn)
    assert a > 0.9
    # equal sizes: a real row's nearest neighbour is synthetic half the time
    assert 0.4 < b < 0.6
    a2, b2 = alpha_precision_beta_recall(real, rng.normal(size=(1200, 3)))
    assert a2 > 0.9 and b2 > b + 0.1


def test_alpha_beta_disjoint_distributions():
    rng = np.random.RandomState(6)
    real, syn = rng.normal(size=(200, 2)), rng.normal(20, 1, size=(200, 2))
    a, b = alpha_precision_beta_recall(real, syn)
    assert a < 0.05 and b < 0.05


def test_alpha_beta_half_of_modes():
    rng = np.random.RandomState(7)
    real = _two_modes(rng, 300)
    syn = rng.normal(-5, 1, size=(300, 2))  # only the left mode
    a, b = alpha_precision_beta_recall(real, syn)
    assert a > 0.85
    assert b < a - 0.3


def test_alpha_beta_mixed_types_and_curves():
    rng = np.random.RandomState(8)
    real = pd.DataFrame(
        {"x": rng.normal(size=200), "c": pd.Categorical(rng.choice(["u", "v"], 200))}
    )
    same = real.sample(frac=1.0, random_state=0)
    res = alpha_precision_beta_recall(real, same, return_curves=True)
    assert res.alpha_precision > 0.95 and res.beta_recall > 0.95  # exact copies
    assert res.alphas.shape == res.alpha_precision_curve.shape == (30,)
    assert np.all(np.diff(res.alpha_precision_curve) >= 0)
    unseen = real.assign(c="w")  # a category the real data never shows
    a, b = alpha_precision_beta_recall(real, unseen)
    assert a < 0.05 and b < 0.05
    with pytest.raises(ValueError):
        alpha_precision_beta_recall(real, real, scaling="robust")
    with pytest.raises(ValueError):
        alpha_precision_beta_recall(real, real, n_alphas=1)


# -- distance to the closest record (pure logic) ------------------------------

def test_gower_distances_mix_numbers_and_categories():
    from skteam.metrics import gower_distances

    ref = pd.DataFrame({"a": [0.0, 10.0], "c": ["x", "y"]})
    d = gower_distances(pd.DataFrame({"a": [0.0, 5.0, 40.0], "c": ["x", "x", "y"]}),
                        ref)
    np.testing.assert_allclose(d, [[0.0, 1.0], [0.25, 0.75], [1.0, 0.5]])


def test_dcr_and_authenticity_see_copies():
    from skteam.metrics import authenticity, distance_to_closest_record

    rng = np.random.default_rng(0)
    train = pd.DataFrame({"a": rng.normal(size=50), "b": rng.choice(["u", "v"], 50)})
    holdout = pd.DataFrame({"a": rng.normal(size=50), "b": rng.choice(["u", "v"], 50)})
    copies = train.iloc[:20].reset_index(drop=True)
    res = distance_to_closest_record(train, copies, holdout)
    assert res.copy_rate == 1.0 and res.syn_median == 0.0
    assert res.holdout_median > 0 and res.closer_than_holdout == 1.0
    assert list(res.nearest) == list(range(20))
    assert authenticity(train, copies) == 0.0
    fresh = distance_to_closest_record(train, holdout, holdout)
    assert fresh.copy_rate == 0.0 and 0.3 < fresh.closer_than_holdout < 0.7
    assert authenticity(train, holdout) > 0.3
