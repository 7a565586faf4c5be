"""Tests of the Diabetes and TravelBehavior simulators."""

import numpy as np
import pandas as pd
import pytest

from skteam.datasets import (
    DIABETES_DESCRIPTIONS,
    DIABETES_RISK_CUTPOINTS,
    RISK_LEVELS,
    TRAVEL_DESCRIPTIONS,
    make_diabetes,
    make_travel_behavior,
)
from skteam.datasets._simulators import _diabetes_draw, _exact_counts

DIABETES_COLUMNS = [
    "HbA1c", "FastingGlucose", "Age", "BMI", "BloodPressure", "Cholesterol",
    "Insulin", "PhysicalActivity",
]  # fmt: skip
BETA_1 = [0.3, 0.0075, -0.01, 0.05, 0.04, -0.03, -0.02, -0.1]


def _rauba_reference(n_samples, seed):
    """``generate_diabetes_data`` of Rauba et al. with a local RandomState.

    ``np.random.seed(seed)`` + ``np.random.normal`` draw the same stream as
    ``RandomState(seed).normal``; a local state keeps the test free of global
    side effects.
    """
    rs = np.random.RandomState(seed)
    cols = [
        rs.normal(5.7, 0.5, n_samples),
        rs.normal(100, 15, n_samples),
        rs.normal(50, 12, n_samples),
        rs.normal(25, 4, n_samples),
        rs.normal(120, 15, n_samples),
        rs.normal(200, 40, n_samples),
        rs.normal(85, 45, n_samples),
        rs.normal(3, 1, n_samples),
    ]
    X = np.vstack(cols).T
    noise = rs.normal(0, 0.2, n_samples)
    p = 1 / (1 + np.exp(-(np.dot(X, BETA_1) + noise)))
    return X, np.where(np.clip(p, 0.4, 0.6) > 0.5, 1, 0)


# ---------------------------------------------------------------- diabetes


def test_diabetes_binary_matches_rauba_source():
    X, y = make_diabetes(500, task="binary", random_state=7)
    X_ref, y_ref = _rauba_reference(500, 7)
    np.testing.assert_array_equal(X.to_numpy(), X_ref)
    np.testing.assert_array_equal(y.to_numpy(), y_ref)
    assert list(X.columns) == DIABETES_COLUMNS
    assert y.name == "Outcome" and y.dtype == np.int64
    assert set(DIABETES_DESCRIPTIONS) == set(DIABETES_COLUMNS)


def test_diabetes_rounded_is_the_source_at_fig5_precision():
    X_ref, y_ref = _rauba_reference(300, 3)
    X, y = make_diabetes(300, task="binary", rounded=True, random_state=3)
    np.testing.assert_array_equal(y.to_numpy(), y_ref)  # labels from the draws
    expected = np.round(X_ref, 0)
    expected[:, 0] = np.round(X_ref[:, 0], 2)
    np.testing.assert_array_equal(X.to_numpy(), expected)
    assert (X.drop(columns="HbA1c") % 1 == 0).all().all()
    assert not (X["HbA1c"] % 1 == 0).all()


def test_diabetes_risk_shapes_and_dtypes():
    X, y = make_diabetes(50, random_state=0)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert X.shape == (50, 8)
    assert all(X.dtypes == np.float64)
    assert y.name == "risk"
    assert set(y) <= set(RISK_LEVELS)
    assert X.index.equals(y.index) and X.index.equals(pd.RangeIndex(50))


def test_risk_cutpoints_recomputed_from_reference_draw():
    # The documented recipe: 70% / 90% quantiles of z over 200k rows, seed 0.
    _, z = _diabetes_draw(200_000, np.random.RandomState(0))
    np.testing.assert_allclose(
        np.quantile(z, [0.7, 0.9]), DIABETES_RISK_CUTPOINTS, rtol=1e-10
    )


def test_risk_population_ratio_is_7_2_1():
    _, y = make_diabetes(50_000, random_state=123)
    share = y.value_counts(normalize=True)
    np.testing.assert_allclose(
        [share["LR"], share["MR"], share["HR"]], [0.7, 0.2, 0.1], atol=0.01
    )


def test_risk_groups_follow_score_cutpoints():
    X, y = make_diabetes(2000, random_state=3)
    _, z = _diabetes_draw(2000, np.random.RandomState(3))
    lo, hi = DIABETES_RISK_CUTPOINTS
    expected = np.where(z <= lo, "LR", np.where(z <= hi, "MR", "HR"))
    np.testing.assert_array_equal(y.to_numpy(dtype=object), expected)
    # binary label of the same draw is z > 0, consistent with the groups
    _, yb = make_diabetes(2000, task="binary", random_state=3)
    assert (yb[y != "LR"] == 1).all()


@pytest.mark.parametrize(
    "ratio, n, expected",
    [
        ((7, 2, 1), 10, {"LR": 7, "MR": 2, "HR": 1}),
        ((8, 2, 0), 10, {"LR": 8, "MR": 2, "HR": 0}),
        ((7, 2, 1), 15, {"LR": 11, "MR": 3, "HR": 1}),  # 10.5, 3, 1.5 -> LR first
        ((1, 1, 1), 100, {"LR": 34, "MR": 33, "HR": 33}),
    ],
)
def test_class_ratio_exact_counts(ratio, n, expected):
    X, y = make_diabetes(n, class_ratio=ratio, random_state=1)
    assert len(X) == len(y) == n
    counts = y.value_counts()
    assert {k: int(counts.get(k, 0)) for k in RISK_LEVELS} == expected


def test_exact_counts_largest_remainder():
    assert _exact_counts(10, (7, 2, 1)).tolist() == [7, 2, 1]
    assert _exact_counts(7, (1, 1)).tolist() == [4, 3]
    assert _exact_counts(11, (8, 2, 0)).tolist() == [9, 2, 0]
    for n in range(1, 40):
        assert _exact_counts(n, (7, 2, 1)).sum() == n


def test_class_ratio_rows_are_population_rows_of_their_class():
    X, y = make_diabetes(30, class_ratio=(1, 1, 1), random_state=5)
    z = X.to_numpy() @ np.array(BETA_1)  # without eps: groups overlap a little
    assert z[y == "HR"].mean() > z[y == "MR"].mean() > z[y == "LR"].mean()


def test_class_ratio_binary():
    _, y = make_diabetes(20, task="binary", class_ratio=(3, 1), random_state=0)
    assert y.value_counts().to_dict() == {0: 15, 1: 5}


@pytest.mark.parametrize("flip", [0.2, 0.3, 0.4])
def test_label_flip_binary_counts(flip):
    X0, y0 = make_diabetes(101, task="binary", random_state=11)
    X1, y1 = make_diabetes(101, task="binary", label_flip=flip, random_state=11)
    pd.testing.assert_frame_equal(X0, X1)
    assert int((y0 != y1).sum()) == int(np.floor(flip * 101 + 0.5))


def test_label_flip_risk_goes_to_other_classes():
    _, y0 = make_diabetes(1000, random_state=2)
    _, y1 = make_diabetes(1000, label_flip=0.3, random_state=2)
    changed = y0 != y1
    assert changed.sum() == 300
    pairs = pd.crosstab(y0[changed], y1[changed])
    # every flipped LR row lands on MR or HR, about evenly
    lr = pairs.loc["LR"]
    assert lr.get("LR", 0) == 0 and abs(lr["MR"] - lr["HR"]) < 0.35 * lr.sum()


def test_label_flip_with_class_ratio_keeps_features():
    X0, y0 = make_diabetes(10, class_ratio=(7, 2, 1), random_state=4)
    X1, y1 = make_diabetes(10, class_ratio=(7, 2, 1), label_flip=0.2, random_state=4)
    pd.testing.assert_frame_equal(X0, X1)
    assert int((y0 != y1).sum()) == 2


def test_diabetes_reproducible_and_no_global_state():
    np.random.seed(2024)
    before = np.random.get_state()[1].copy()
    a = make_diabetes(40, class_ratio=(7, 2, 1), label_flip=0.3, random_state=9)
    b = make_diabetes(40, class_ratio=(7, 2, 1), label_flip=0.3, random_state=9)
    make_diabetes(40, random_state=None)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_series_equal(a[1], b[1])
    c = make_diabetes(40, class_ratio=(7, 2, 1), label_flip=0.3, random_state=10)
    assert not a[0].equals(c[0])


def test_diabetes_accepts_random_state_instance():
    rs = np.random.RandomState(0)
    X1, _ = make_diabetes(5, random_state=rs)
    X2, _ = make_diabetes(5, random_state=rs)
    assert not X1.equals(X2)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_samples": 0},
        {"n_samples": 2.5},
        {"n_samples": 10, "task": "multi"},
        {"n_samples": 10, "class_ratio": (7, 2)},
        {"n_samples": 10, "class_ratio": (7, -2, 1)},
        {"n_samples": 10, "class_ratio": (0, 0, 0)},
        {"n_samples": 10, "label_flip": 1.5},
    ],
)
def test_diabetes_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        make_diabetes(**kwargs)


# ---------------------------------------------------------------- travel


def test_travel_shapes_dtypes_and_balance():
    X, y = make_travel_behavior(4000, random_state=0)
    assert X.shape == (4000, 4)
    assert list(X.columns) == ["TimeSaving", "Incentive", "TripDistance", "Habit"]
    assert list(TRAVEL_DESCRIPTIONS) == list(X.columns)
    assert all(X.dtypes == np.float64)
    assert y.name == "Choice" and y.dtype == np.int64 and set(y) == {0, 1}
    assert 0.3 < y.mean() < 0.7
    assert X["Incentive"].between(0, 5).all() and X["Habit"].between(0, 1).all()
    assert (X["TripDistance"] > 0).all()


def test_travel_label_is_learnable():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    X, y = make_travel_behavior(2000, random_state=1)
    Xt, yt = make_travel_behavior(1000, random_state=2)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    assert roc_auc_score(yt, model.predict_proba(Xt)[:, 1]) > 0.95
    # signs of the latent utility / threshold model
    coef = dict(zip(X.columns, model.coef_[0]))
    assert coef["TimeSaving"] > 0 and coef["Incentive"] > 0
    assert coef["TripDistance"] < 0 and coef["Habit"] < 0


def test_travel_flip_and_reproducibility():
    np.random.seed(1)
    before = np.random.get_state()[1].copy()
    X0, y0 = make_travel_behavior(60, random_state=3)
    X1, y1 = make_travel_behavior(60, label_flip=0.3, random_state=3)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    pd.testing.assert_frame_equal(X0, X1)
    assert int((y0 != y1).sum()) == 18
    X2, y2 = make_travel_behavior(60, label_flip=0.3, random_state=3)
    pd.testing.assert_series_equal(y1, y2)
    with pytest.raises(ValueError):
        make_travel_behavior(10, label_flip=-0.1)
