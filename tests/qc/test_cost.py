"""QC stage 2: the cost window, the duel's known answers, the null and the cache."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from skteam.qc import CostDuel, cost_window, inverse_ecdf
from skteam.qc import cost as cost_module

W = np.array([2.0, -1.5, 1.0, 0.0])


def make(rng, m, noise=0.5):
    X = rng.normal(size=(m, 4))
    y = (X @ W + noise * rng.normal(size=m) > 0).astype(int)
    return X, y


class CountingLR(LogisticRegression):
    """LogisticRegression that counts its fits (class-wide)."""

    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight)


@pytest.fixture(autouse=True)
def fresh_cache():
    cost_module.clear_cache()
    yield
    cost_module.clear_cache()


# -- the quantile window (Eq. 6) -------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5, 8, 10, 20, 21, 33])
@pytest.mark.parametrize("q", [0.05, 0.1, 0.2, 0.25, 0.3, 0.45, 0.55, 0.6, 0.75, 0.95])
def test_inverse_ecdf_is_numpy_inverted_cdf(n, q):
    values = np.random.default_rng(n).random(n)
    assert inverse_ecdf(values, q) == np.quantile(values, q, method="inverted_cdf")


def test_inverse_ecdf_is_inf_of_F_geq_q():
    v = np.arange(1, 21) / 100  # 0.01 .. 0.20
    # F(e_(k)) = k/20; the 0.25-quantile is e_(5), the 0.6-quantile e_(12)
    assert inverse_ecdf(v, 0.25) == 0.05
    assert inverse_ecdf(v, 0.75) == 0.15
    assert inverse_ecdf(v, 0.1) == 0.02
    assert inverse_ecdf(v, 0.6) == 0.12
    assert inverse_ecdf(v, 0.26) == 0.06


def test_window_exact_indices():
    costs = np.array([0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4])
    # sorted .1 .2 .3 .4 .5 .7 .8 .9: F⁻¹(.25) = .2 (2nd), F⁻¹(.75) = .7 (6th)
    assert np.flatnonzero(cost_window(costs, 0.25)).tolist() == [2, 3, 4, 5, 7]
    # β = 0.1: F⁻¹(.1) = 1st (.1), F⁻¹(.6) = 5th (.5)
    assert np.flatnonzero(cost_window(costs, 0.1)).tolist() == [1, 2, 3, 5, 7]


def test_window_keeps_ties_at_both_bounds():
    costs = np.array([0.1, 0.2, 0.2, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5, 0.9])
    # F⁻¹(.25) = 3rd = .2, F⁻¹(.75) = 8th = .5: every tied .2 and .5 is kept
    assert np.flatnonzero(cost_window(costs, 0.25)).tolist() == list(range(1, 9))
    assert cost_window(np.zeros(6), 0.25).all()
    two = np.array([0, 0, 0, 0, 1, 1, 1, 1.0])
    assert cost_window(two, 0.25).all()          # bounds 0 and 1
    skew = np.array([0, 0, 0, 0, 0, 0, 1, 1.0])
    assert cost_window(skew, 0.25).tolist() == [True] * 6 + [False] * 2  # F⁻¹(.75) = 0


def test_trim_without_the_lower_bound_keeps_every_row_up_to_the_upper_one():
    costs = np.array([0.8, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    # F⁻¹(0.75) of 8 costs is the 6th smallest, 0.6
    assert np.flatnonzero(cost_window(costs, 0.25, lower=False)).tolist() == [
        1, 2, 3, 4, 5, 6]
    assert (cost_window(costs, 0.25, lower=False)
            >= cost_window(costs, 0.25)).all()


def test_window_of_distinct_costs_holds_half_plus_one():
    costs = np.random.default_rng(0).permutation(20) / 20
    assert cost_window(costs, 0.25).sum() == 11
    assert cost_window(np.array([]), 0.25).shape == (0,)


# -- known answers ------------------------------------------------------------------


def test_good_batch_beats_flipped_batch_over_seeds():
    good_ahead = accepted_good = accepted_flipped = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        X, y = make(rng, 40)
        Xg, yg = make(rng, 10)
        duel = CostDuel(LogisticRegression(), c=0.0, n_null=50, random_state=seed)
        good = duel.evaluate(X, y, X, y, Xg, yg)
        flipped = duel.evaluate(X, y, X, y, Xg, 1 - yg)
        good_ahead += good.delta > flipped.delta
        accepted_good += good.accepted
        accepted_flipped += flipped.accepted
        assert flipped.keep.any() == flipped.accepted
    # measured over seeds 0-39: Δ(good) > Δ(flipped) at 36, good accepted at
    # 32, flipped at 4 (a fresh row trains one fold's model, as a real row
    # does, so a batch moves H by about half as much as when it trained both)
    assert good_ahead >= 16
    assert accepted_good >= 12
    assert accepted_flipped <= 3


def test_rows_take_the_fold_of_their_nearest_real_row_of_their_class():
    rng = np.random.default_rng(0)
    X, y = make(rng, 30)
    X[:, 1] *= 1000.0  # ranges differ: the distance scales each column by its range
    duel = CostDuel(LogisticRegression(), random_state=0)._duel(X, y, X, y)
    assert set(duel.fold_ori) == {0, 1}
    assert duel.folds_of(X, y).tolist() == duel.fold_ori.tolist()  # real rows
    span = X.max(axis=0) - X.min(axis=0)
    near = X + 0.01 * span * rng.uniform(-1, 1, X.shape)
    assert duel.folds_of(near, y).tolist() == duel.fold_ori.tolist()
    # a row of one class near a real row of the other takes the fold of the
    # nearest real row of its own class
    i = int(np.flatnonzero(y == 0)[0])
    same = np.flatnonzero(y == 1)
    nearest = same[np.abs((X[same] - X[i]) / span).sum(axis=1).argmin()]
    assert duel.folds_of(X[[i]], [1]).tolist() == [duel.fold_ori[nearest]]
    # a class D_ori lacks trains both folds
    assert duel.folds_of(X[:3], [2, 2, 2]).tolist() == [-1, -1, -1]


def test_rows_of_text_values_are_folded_by_identity_only():
    X = pd.DataFrame({"a": list("abcdefgh"), "b": list("pqpqpqpq")})
    y = np.array([0, 1] * 4)
    duel = CostDuel(LogisticRegression(), random_state=0)._duel(X, y, X, y)
    assert duel.folds_of(X, y).tolist() == duel.fold_ori.tolist()
    new = pd.DataFrame({"a": ["z"], "b": ["p"]})
    assert duel.folds_of(new, [0]).tolist() == [-1]


def test_only_generated_rows_in_the_window_are_kept():
    rng = np.random.default_rng(0)
    X, y = make(rng, 40)
    Xg, yg = make(rng, 10)
    res = CostDuel(LogisticRegression(), c=0.0, n_null=30,
                   random_state=0).evaluate(X, y, X, y, Xg, yg)
    assert res.accepted
    assert res.keep.shape == (10,) and res.in_window.shape == (10,)
    assert res.keep.tolist() == res.in_window.tolist()
    assert 0 < res.keep.sum() <= 10
    assert res.tau == 0.0  # c = 0: better than the average bootstrap batch
    assert res.delta > 0


def test_bootstrap_batches_posing_as_generated_are_rarely_accepted():
    rng = np.random.default_rng(0)
    X, y = make(rng, 40)
    duel = CostDuel(LogisticRegression(), c=1.0, n_null=200, random_state=0,
                    sequential=False)
    null = duel.null_distribution(X, y, X, y, 10)
    assert null.shape == (200,) and null.std() > 0
    accepted = 0
    for j in range(40):
        idx = np.random.default_rng(100 + j).integers(0, 40, 10)
        accepted += duel.evaluate(X, y, X, y, X[idx], y[idx]).accepted
    # bootstrap batches are exchangeable with the null draws: P(Δ > μ + σ) ≈ 0.16
    assert accepted / 40 <= 0.25


# -- the cache -------------------------------------------------------------------


def test_null_is_computed_once_for_every_c():
    rng = np.random.default_rng(1)
    X, y = make(rng, 30)
    Xg, yg = make(rng, 8)
    CountingLR.fits = 0
    first = CostDuel(CountingLR(), c=0.0, n_null=40, random_state=1,
                     sequential=False).evaluate(X, y, X, y, Xg, yg)
    fits_first = CountingLR.fits
    # f on D, 2 folds for D̄_t, 2 folds per bootstrap draw
    assert fits_first == 1 + 2 + 2 * 40
    results = []
    for c in (1.0, 2.0, 3.0):
        results.append(CostDuel(CountingLR(), c=c, n_null=40, random_state=1,
                                sequential=False).evaluate(X, y, X, y, Xg, yg))
    # each further c: only the 2 fits of the batch's own H, no null, no f on D
    assert CountingLR.fits == fits_first + 3 * 2
    for c, res in zip((1.0, 2.0, 3.0), results):
        assert res.delta == first.delta
        assert res.null_mean == first.null_mean and res.null_std == first.null_std
        assert res.tau == pytest.approx(c * first.null_std)


def test_null_draws_are_the_same_with_worker_processes():
    """n_jobs splits a stage's draws between loky workers; draws and verdicts agree."""
    rng = np.random.default_rng(3)
    X, y = make(rng, 40)
    Xg, yg = make(rng, 10)
    kw = dict(c=0.5, n_null=200, random_state=4)
    serial = CostDuel(LogisticRegression(), **kw)
    null_serial = serial.null_distribution(X, y, X, y, 10, y_batch=yg)
    res_serial = serial.evaluate(X, y, X, y, Xg, yg)
    cost_module.clear_cache()  # the workers must draw, not the cache answer
    split = CostDuel(LogisticRegression(), n_jobs=2, **kw)
    np.testing.assert_array_equal(
        split.null_distribution(X, y, X, y, 10, y_batch=yg), null_serial)
    cost_module.clear_cache()
    res_split = split.evaluate(X, y, X, y, Xg, yg)
    def verdict(r):
        return r.delta, r.tau, r.accepted, r.n_null_used

    assert verdict(res_split) == verdict(res_serial)
    np.testing.assert_array_equal(res_split.keep, res_serial.keep)


@pytest.mark.parametrize("n_jobs", [0, 1.5, True, "2"])
def test_bad_n_jobs_says_what_to_pass(n_jobs):
    rng = np.random.default_rng(3)
    X, y = make(rng, 20)
    with pytest.raises(ValueError, match=r"n_jobs=.*pass None or 1.*-1"):
        CostDuel(LogisticRegression(), n_jobs=n_jobs).evaluate(X, y, X, y, X[:5], y[:5])


def test_sequential_stops_early_on_clear_decisions_and_matches_exhaustive():
    rng = np.random.default_rng(2)
    X, y = make(rng, 40)
    Xg, yg = make(rng, 10)
    seq = CostDuel(LogisticRegression(), c=1.0, n_null=400, random_state=2)
    full = CostDuel(LogisticRegression(), c=1.0, n_null=400, random_state=2,
                    sequential=False)
    a = seq.evaluate(X, y, X, y, Xg, 1 - yg)  # flipped: far below τ
    b = full.evaluate(X, y, X, y, Xg, 1 - yg)
    assert a.n_null_used == cost_module.SEQUENTIAL_START and b.n_null_used == 400
    assert a.accepted == b.accepted is False
    # the same H of the trimmed batch, measured against fewer draws
    assert a.delta + a.null_mean == pytest.approx(b.delta + b.null_mean)
    # the sequential draws are a prefix of the exhaustive ones, drawn with
    # the class counts of the trimmed rows
    trimmed = (1 - yg)[a.in_window]
    null = full.null_distribution(X, y, X, y, len(trimmed), y_batch=trimmed)
    assert a.null_mean == pytest.approx(null[:a.n_null_used].mean())
    assert b.null_mean == pytest.approx(null.mean())


def test_sequential_stops_at_a_tie_before_n_null():
    rng = np.random.default_rng(1)
    X, y = make(rng, 40)
    Xg, yg = make(rng, 10)
    full = CostDuel(LogisticRegression(), c=0.0, n_null=1000, random_state=2,
                    sequential=False).evaluate(X, y, X, y, Xg, yg)
    # the c that puts τ exactly on Δ with all 1000 draws
    c = full.delta / full.null_std
    tie = CostDuel(LogisticRegression(), c=c, n_null=1000, random_state=2)
    res = tie.evaluate(X, y, X, y, Xg, yg)
    assert res.n_null_used < 1000
    null = tie.null_distribution(X, y, X, y, int(res.in_window.sum()),
                                 y_batch=yg[res.in_window])[:res.n_null_used]
    stages = cost_module.sequential_stages(1000)
    assert res.n_null_used in stages
    assert res.n_null_used >= cost_module.SEQUENTIAL_TIE_MIN
    se = cost_module._tau_se(null, c)
    assert (cost_module.SEQUENTIAL_TIE_Z * se
            < cost_module.SEQUENTIAL_TIE * null.std(ddof=1))
    # undecided there, and not yet a tie one stage earlier (or too few draws)
    assert abs(res.delta - res.tau) <= cost_module.SEQUENTIAL_Z * se
    n_earlier = stages[stages.index(res.n_null_used) - 1]
    earlier = null[:n_earlier]
    se_earlier = cost_module._tau_se(earlier, c)
    assert n_earlier < cost_module.SEQUENTIAL_TIE_MIN or (
        cost_module.SEQUENTIAL_TIE_Z * se_earlier
        >= cost_module.SEQUENTIAL_TIE * earlier.std(ddof=1))
    # a clear batch at the same c stops at the first stage
    clear = tie.evaluate(X, y, X, y, Xg, 1 - yg)
    assert clear.n_null_used == cost_module.SEQUENTIAL_START and not clear.accepted


def test_no_tie_before_the_fewest_draws():
    """At c = 0 a batch with Δ on the mean of 75 draws would be a tie there
    (2·s/√75 < 0.25·s); the stop waits for SEQUENTIAL_TIE_MIN draws.

    Test double (pure logic of the stop): the null draws are fixed normal
    numbers instead of fits.
    """
    draws = np.random.default_rng(0).normal(size=1000)

    class FixedNull(CostDuel):
        def _null(self, duel, counts, n):
            return draws[:n]

    n, null = FixedNull(LogisticRegression(), c=0.0)._sequential(
        None, None, draws[:75].mean())
    assert n == cost_module.SEQUENTIAL_TIE_MIN and len(null) == n
    # a clear batch still stops at the first stage
    n, _ = FixedNull(LogisticRegression(), c=0.0)._sequential(None, None, 5.0)
    assert n == cost_module.SEQUENTIAL_START


@pytest.mark.parametrize("n_null, expected", [
    (1000, [50, 75, 125, 200, 300, 450, 675, 1000]),
    (200, [50, 75, 125, 200]),
    (60, [50, 60]),
    (20, [20]),
])
def test_sequential_stages_grow_by_half_to_n_null(n_null, expected):
    assert cost_module.sequential_stages(n_null) == expected


def test_reproducible_and_global_rng_untouched():
    rng = np.random.default_rng(4)
    X, y = make(rng, 30)
    Xg, yg = make(rng, 6)
    state = np.random.get_state()[1].copy()
    a = CostDuel(LogisticRegression(), n_null=20, random_state=7).evaluate(
        X, y, X, y, Xg, yg)
    cost_module.clear_cache()
    b = CostDuel(LogisticRegression(), n_null=20, random_state=7).evaluate(
        X, y, X, y, Xg, yg)
    CostDuel(LogisticRegression(), n_null=20).evaluate(X, y, X, y, Xg, yg)
    CostDuel(LogisticRegression(), n_null=20,
             random_state=np.random.RandomState(0)).evaluate(X, y, X, y, Xg, yg)
    assert (a.delta, a.tau, a.keep.tolist()) == (b.delta, b.tau, b.keep.tolist())
    assert np.array_equal(np.random.get_state()[1], state)


# -- inputs and degenerate data -------------------------------------------------


def test_frames_and_arrays_give_the_same_duel():
    rng = np.random.default_rng(5)
    X, y = make(rng, 30)
    Xg, yg = make(rng, 8)
    cols = list("abcd")
    duel = CostDuel(LogisticRegression(), n_null=20, random_state=5)
    arr = duel.evaluate(X, y, X, y, Xg, yg)
    F, Fg = pd.DataFrame(X, columns=cols), pd.DataFrame(Xg, columns=cols)
    F_before, y_before = F.copy(), y.copy()
    fr = duel.evaluate(F, pd.Series(y), F, y, Fg, yg)
    assert fr.delta == pytest.approx(arr.delta)
    assert fr.keep.tolist() == arr.keep.tolist()
    pd.testing.assert_frame_equal(F, F_before)
    assert np.array_equal(y, y_before)


def test_D_larger_than_D_ori_and_unseen_label():
    rng = np.random.default_rng(6)
    X, y = make(rng, 30)
    Xe, ye = make(rng, 10)
    X_D, y_D = np.vstack([X, Xe]), np.concatenate([y, ye])
    Xg, _ = make(rng, 5)
    res = CostDuel(LogisticRegression(), n_null=20, random_state=0).evaluate(
        X_D, y_D, X, y, Xg, np.full(5, 2))  # a class nobody has seen
    assert np.isfinite(res.delta) and np.isfinite(res.tau)
    assert res.keep.shape == (5,)


def test_no_predict_proba_is_an_actionable_type_error():
    rng = np.random.default_rng(0)
    X, y = make(rng, 20)
    with pytest.raises(TypeError, match=r"LinearSVC has no predict_proba.*"
                                        r"CalibratedClassifierCV\(LinearSVC"):
        CostDuel(LinearSVC()).evaluate(X, y, X, y, X[:3], y[:3])


def test_calibrated_wrapper_works():
    from sklearn.calibration import CalibratedClassifierCV

    rng = np.random.default_rng(0)
    X, y = make(rng, 40)
    res = CostDuel(CalibratedClassifierCV(LinearSVC(), cv=3), n_null=10,
                   random_state=0).evaluate(X, y, X, y, X[:5], y[:5])
    assert np.isfinite(res.delta)


def test_single_class_everywhere_is_skipped_and_accepted():
    X = np.random.default_rng(0).normal(size=(10, 3))
    y = np.zeros(10, dtype=int)
    res = CostDuel(LogisticRegression(), n_null=10).evaluate(X, y, X, y, X[:4], y[:4])
    assert res.accepted and res.keep.all() and np.isnan(res.delta)
    assert res.verdict.startswith("skipped: one class")


def test_single_class_D_with_a_new_class_batch_runs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    y = np.zeros(12, dtype=int)
    res = CostDuel(LogisticRegression(), n_null=10, random_state=0).evaluate(
        X, y, X, y, X[:4] + 3, np.ones(4, dtype=int))
    assert np.isfinite(res.delta) and res.keep.shape == (4,)


def test_tiny_D_ori():
    X1 = np.ones((3, 2))
    y1 = np.array([0, 0, 0])
    res = CostDuel(LogisticRegression(), n_null=10).evaluate(
        X1, y1, X1, y1, np.zeros((2, 2)), np.array([1, 0]))
    assert res.accepted and res.verdict.startswith("skipped: D_ori has fewer than 2")
    X3 = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    y3 = np.array([0, 1, 0])
    res = CostDuel(LogisticRegression(), n_null=10, random_state=0).evaluate(
        X3, y3, X3, y3, X3[:2] + 0.1, y3[:2])
    assert np.isfinite(res.delta) and np.isfinite(res.tau)


def test_empty_batch_and_bad_parameters():
    rng = np.random.default_rng(0)
    X, y = make(rng, 10)
    res = CostDuel(LogisticRegression()).evaluate(X, y, X, y, X[:0], y[:0])
    assert not res.accepted and res.keep.shape == (0,)
    with pytest.raises(ValueError, match="beta"):
        CostDuel(LogisticRegression(), beta=0.5).evaluate(X, y, X, y, X, y)
    with pytest.raises(ValueError, match="n_null"):
        CostDuel(LogisticRegression(), n_null=1).evaluate(X, y, X, y, X, y)
    with pytest.raises(ValueError, match="equal lengths"):
        CostDuel(LogisticRegression()).evaluate(X, y[:-1], X, y, X, y)
