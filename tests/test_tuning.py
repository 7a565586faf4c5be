"""cost_c_grid: values of cost_c read from a fit's qc_report_.

Most tests use ``fitted``, a labelled stand-in for a fitted sampler (its
``cost_c`` and a hand-written ``qc_report_``); one runs the sampler with
``model="test::uniform"`` (the grammar-only test double) and the real QC, and
a slow one (about 12 minutes of CPU) the bundled model with the default QC.
"""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from skteam import TeamTrimSampler
from skteam.tuning import cost_c_grid, cost_c_limits


def fitted(limits, cost_c=0.0, rejected=()):
    """Stand-in for a fitted sampler whose kept batches have these limits."""
    std = 0.02
    rows = [{"kept": 10, "delta": lim * std, "null_std": std} for lim in limits]
    rows += [{"kept": 0, "delta": lim * std, "null_std": std} for lim in rejected]
    rows.append({"kept": 10, "delta": np.nan, "null_std": np.nan})  # no duel
    return SimpleNamespace(cost_c=cost_c, qc_report_=pd.DataFrame(rows))


def test_limits_are_delta_over_null_std_of_the_kept_batches():
    limits = cost_c_limits(fitted([2.4, 1.8, 2.7], rejected=[0.3, 5.0]))
    np.testing.assert_allclose(limits.to_numpy(), [1.8, 2.4, 2.7])


@pytest.mark.parametrize("limits", [[1.8, 2.4, 2.7, 3.1, 0.4, 0.9, 5.0],
                                    [0.5, 0.6, 0.7, 0.8]])
def test_each_value_keeps_a_different_set_of_the_batches(limits):
    values = cost_c_grid(fitted(limits, cost_c=0.0), n=4)
    assert values[0] == 0.0 and len(values) == 4
    assert values == sorted(values) and len(set(values)) == 4
    kept = [frozenset(lim for lim in limits if lim > c) for c in values]
    assert len(set(kept)) == 4
    # every value keeps the strongest batch, none sits on a limit
    assert all(max(limits) in k for k in kept)
    assert not set(values) & set(limits)


@pytest.mark.parametrize("k", [6, 7, 12, 25])
def test_with_enough_batches_every_value_keeps_at_least_half(k):
    limits = list(np.linspace(1.0, 4.0, k))
    values = cost_c_grid(fitted(limits, cost_c=0.0), n=4)
    kept = [sum(lim > c for lim in limits) for c in values]
    assert len(set(kept)) == 4 and kept[0] == k
    assert min(kept) >= k / 2
    # the cuts spread over the weaker half: the last one at (or next to) it
    assert min(kept) <= k / 2 + 1


def test_fewer_kept_batches_than_values_warns_and_keeps_the_strongest():
    with pytest.warns(UserWarning, match=r"kept 2 batch\(es\).*only 2 value\(s\)"):
        values = cost_c_grid(fitted([1.0, 2.0], cost_c=-0.5), n=4)
    assert values == [-0.5, 1.5]
    with pytest.warns(UserWarning, match=r"kept 1 batch\(es\).*only 1 value\(s\)"):
        assert cost_c_grid(fitted([1.0]), n=2) == [0.0]


def test_no_kept_batch_or_bad_input_says_what_to_do():
    with pytest.raises(ValueError, match="lower cost_c"):
        cost_c_grid(fitted([], rejected=[0.5]))
    no_duel = fitted([])
    no_duel.qc_report_["delta"] = np.nan
    with pytest.raises(ValueError, match="ran no cost duel.*'cost' among the qc"):
        cost_c_grid(no_duel)
    with pytest.raises(ValueError, match="n must be an int >= 2"):
        cost_c_grid(fitted([1.0]), n=1)
    with pytest.raises(ValueError, match="fitted sampler"):
        cost_c_grid(TeamTrimSampler())


@pytest.mark.filterwarnings("ignore:TeamTrimSampler could not fill")
def test_values_change_the_rows_of_a_real_fit():
    """Test double model (test::uniform), real QC: each value returns other rows."""
    rng = np.random.default_rng(0)
    n = 60
    X = pd.DataFrame({"a": np.round(rng.normal(size=n), 2),
                      "b": np.round(rng.normal(size=n), 2)})
    y = (X["a"] + 0.5 * rng.normal(size=n) > 0.9).astype(int).to_numpy()
    params = dict(model="test::uniform", verbose=0, cost_null_draws=50, random_state=0,
                  qc=("sanity", "cost"), on_shortfall="warn", batch_size=5,
                  max_batches=40)
    sampler = TeamTrimSampler(cost_c=-3.0, **params)
    sampler.fit_resample(X, y)
    values = cost_c_grid(sampler, n=3)
    assert values[0] == -3.0 and len(values) == 3
    rows = []
    for c in values:
        s = TeamTrimSampler(cost_c=c, **params)
        Xr, _ = s.fit_resample(X, y)
        rows.append(pd.DataFrame(Xr)[s.synthetic_mask_].to_csv(index=False))
    assert len(set(rows)) == 3


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.filterwarnings("ignore:TeamTrimSampler could not fill")
def test_values_change_the_rows_the_embedded_model_returns():
    """The bundled model and the default QC: each value keeps other batches."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    X = data.data[["mean radius", "mean texture", "mean smoothness",
                   "worst concavity"]].round(3)
    y = 1 - data.target.to_numpy()  # malignant, the minority, as 1
    rng = np.random.default_rng(0)
    idx = np.r_[rng.choice(np.flatnonzero(y == 1), 10, replace=False),
                rng.choice(np.flatnonzero(y == 0), 40, replace=False)]
    X, y = X.iloc[idx].reset_index(drop=True), y[idx]
    params = dict(random_state=0, verbose=0, sampling_strategy={1: 30})
    sampler = TeamTrimSampler(**params)
    sampler.fit_resample(X, y)
    values = cost_c_grid(sampler, n=3)
    assert len(values) >= 2 and values[0] == 0.0
    rows = []
    for c in values:
        s = TeamTrimSampler(cost_c=c, **params)
        Xr, _ = s.fit_resample(X, y)
        rows.append(Xr[s.synthetic_mask_].to_csv(index=False))
    assert len(set(rows)) == len(values)
