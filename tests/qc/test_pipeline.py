"""TrimQC: the stages together, on hand-built batches and on SMOTE's output."""

import numpy as np
import pandas as pd
import pytest
from imblearn.over_sampling import SMOTE
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from skteam import TrimQC
from skteam.qc import BatchVerdict
from skteam.qc import cost as cost_module
from skteam.qc.pipeline import REPORT_COLUMNS

W = np.array([2.0, -1.5, 1.0])


@pytest.fixture(autouse=True)
def fresh_cache():
    cost_module.clear_cache()
    yield


def table(n=60, seed=0):
    """Numeric, integer and categorical columns; y depends on all three."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    age = rng.integers(20, 70, n)
    group = rng.choice(["a", "b", "c"], n)
    score = 2 * x + (age - 45) / 10 + (group == "a") * 1.5 + 0.5 * rng.normal(size=n)
    X = pd.DataFrame({"x": x, "age": age, "group": group})
    return X, (score > 0).astype(int)


def smote_rows(seed=0):
    X, y = make_classification(n_samples=120, n_features=5, n_informative=3,
                               n_redundant=0, weights=[0.8], random_state=seed)
    Xs, ys = SMOTE(random_state=seed).fit_resample(X, y)
    return X, y, Xs[len(X):], ys[len(X):]


def test_defaults_params_and_clone():
    qc = TrimQC()
    assert qc.get_params()["stages"] == ("sanity", "cost", "diversity")
    assert qc.get_params()["cost_null_draws"] == 1000
    twin = clone(TrimQC(LogisticRegression(C=2.0), cost_c=2, random_state=3))
    assert twin.cost_c == 2 and twin.estimator.C == 2.0
    assert not hasattr(twin, "schema_")


def test_fit_learns_schema_constraints_and_clusters():
    X, y = table()
    qc = TrimQC(cost_null_draws=20, constraints=["age >= 18"], random_state=0).fit(X, y)
    assert qc.schema_["group"].kind == "categorical"
    assert len(qc.constraints_) == 1
    assert qc.n_clusters_ in (3, 4, 5)
    assert qc.cost_duel_.n_null == 20


def test_hand_built_batch_sanity_then_cost():
    X, y = table()
    qc = TrimQC(cost_null_draws=30, constraints=["age >= 18"], random_state=0,
                stages=("sanity", "cost")).fit(X, y)
    batch = X.iloc[:8].astype({"age": float})
    batch.loc[0, "age"] = 150           # out of range
    batch.loc[1, "group"] = "zzz"       # unknown category
    batch.loc[2, "age"] = 30.5          # not an integer
    v = qc.trim_batch(batch, y[:8])
    assert isinstance(v, BatchVerdict)
    assert v.dropped["sanity"] == 3
    assert v.sanity_rules == {"range:age": 1, "category:group": 1, "integer:age": 1}
    assert not v.keep[:3].any()
    assert v.dropped["sanity"] + v.dropped["cost"] + v.keep.sum() == 8
    assert np.isfinite(v.delta) and np.isfinite(v.tau)
    assert v.cost.keep.shape == (5,)       # the duel saw the 5 sane rows
    assert v.verdict.split(";")[0] in ("accepted", "rejected")


def test_flipped_labels_rejected_by_the_cost_stage():
    X, y = table(80, seed=1)
    Xg, yg = table(10, seed=2)
    qc = TrimQC(stages=("cost",), cost_c=0.0, cost_null_draws=50, random_state=0)
    qc.fit(X, y)
    bad = qc.trim_batch(Xg, 1 - yg)
    assert not bad.accepted and bad.dropped["cost"] == 10
    good = qc.trim_batch(Xg, yg)
    assert good.delta > bad.delta


def test_no_stage_keeps_everything_and_sanity_alone():
    X, y = table()
    batch = X.iloc[:5].copy()
    batch.loc[0, "age"] = 500
    v = TrimQC(stages=()).fit(X, y).trim_batch(batch, y[:5])
    assert v.keep.all() and v.accepted and v.verdict == "accepted (no QC)"
    v = TrimQC(stages=("sanity",)).fit(X, y).trim_batch(batch, y[:5])
    assert v.keep.tolist() == [False, True, True, True, True]
    assert np.isnan(v.delta) and np.isnan(v.entropy_gain)


def test_diversity_stage_runs_on_kept_rows_only():
    X, y = table()
    qc = TrimQC(stages=("sanity", "diversity"), random_state=0).fit(X, y)
    batch = X.iloc[:6].copy()
    batch.loc[0, "x"] = 1e6
    v = qc.trim_batch(batch, np.ones(6, dtype=int))
    assert v.dropped["sanity"] == 1
    assert v.diversity.counts_batch.sum() == 5
    assert np.isfinite(v.entropy_gain)


def test_bad_stages_and_estimator_without_predict_proba():
    X, y = table()
    with pytest.raises(ValueError, match="not a subset"):
        TrimQC(stages=("sanity", "vibes")).fit(X, y)
    with pytest.raises(TypeError, match="CalibratedClassifierCV"):
        TrimQC(LinearSVC()).fit(X, y)
    TrimQC(LinearSVC(), stages=("sanity", "diversity")).fit(X, y)  # not needed
    with pytest.raises(ValueError, match="cost_beta"):
        TrimQC(cost_beta=0.7).fit(X, y)
    with pytest.raises(AttributeError, match="not fitted"):
        TrimQC().trim_batch(X, y)


def test_filter_smote_output_numpy():
    X, y, Xg, yg = smote_rows()
    Xg_before, yg_before, X_before = Xg.copy(), yg.copy(), X.copy()
    qc = TrimQC(cost_null_draws=30, random_state=0).fit(X, y)
    X_kept, y_kept, report = qc.filter(Xg, yg, batch_size=10)
    n_batches = int(np.ceil(len(yg) / 10))
    assert list(report.columns) == REPORT_COLUMNS
    assert len(report) == n_batches
    assert report["n_generated"].sum() == len(yg)
    assert (report["class"] == 1).all()          # SMOTE rows of the minority class
    stages = ["dropped_sanity", "dropped_cost", "dropped_diversity"]
    dropped = report[stages].sum(axis=1)
    assert (dropped + report["kept"] == report["n_generated"]).all()
    assert report["kept"].sum() == len(y_kept) == len(X_kept)
    assert isinstance(X_kept, np.ndarray) and X_kept.shape[1] == X.shape[1]
    # the kept rows are generated rows, in order
    rows = {tuple(r) for r in Xg}
    assert all(tuple(r) in rows for r in X_kept)
    np.testing.assert_array_equal(Xg, Xg_before)
    np.testing.assert_array_equal(yg, yg_before)
    np.testing.assert_array_equal(X, X_before)


def test_filter_frames_keep_index_and_report_mixed_class():
    X, y, Xg, yg = smote_rows(seed=1)
    cols = [f"f{i}" for i in range(X.shape[1])]
    F = pd.DataFrame(X, columns=cols)
    G = pd.DataFrame(Xg, columns=cols, index=np.arange(len(Xg)) + 1000)
    yg = yg.copy()
    yg[::3] = 0                                       # mixed batches
    qc = TrimQC(stages=("sanity", "cost"), cost_null_draws=20, random_state=0)
    X_kept, y_kept, report = qc.fit(F, y).filter(G, yg, batch_size=7)
    assert isinstance(X_kept, pd.DataFrame) and list(X_kept.columns) == cols
    assert set(X_kept.index) <= set(G.index)
    assert (report["class"] == "mixed").all()
    assert len(report) == int(np.ceil(len(yg) / 7))


def test_filter_grows_D_with_accepted_rows(monkeypatch):
    X, y, Xg, yg = smote_rows()
    qc = TrimQC(stages=(), random_state=0).fit(X, y)
    seen = []
    original = TrimQC.trim_batch

    def spy(self, X_batch, y_batch, X_current=None, y_current=None, target=None):
        seen.append(len(X_current))
        return original(self, X_batch, y_batch, X_current, y_current, target)

    monkeypatch.setattr(TrimQC, "trim_batch", spy)
    qc.filter(Xg[:25], yg[:25], batch_size=10)
    assert seen == [len(X), len(X) + 10, len(X) + 20]


def test_trim_batch_against_a_grown_D_and_categorical_encoding():
    X, y = table(60)
    Xe, ye = table(20, seed=5)
    Xg, yg = table(8, seed=6)
    qc = TrimQC(cost_null_draws=20, random_state=0, stages=("cost",)).fit(X, y)
    X_D = pd.concat([X, Xe], ignore_index=True)
    y_D = np.concatenate([y, ye])
    v = qc.trim_batch(Xg, yg, X_D, y_D)
    assert np.isfinite(v.delta)
    # numpy rows with strings are read by position
    v2 = qc.trim_batch(Xg.to_numpy(dtype=object), yg, X_D.to_numpy(dtype=object), y_D)
    assert v2.delta == pytest.approx(v.delta)


def test_empty_batch():
    X, y = table()
    v = TrimQC(cost_null_draws=10).fit(X, y).trim_batch(X.iloc[:0], y[:0])
    assert not v.accepted and v.keep.shape == (0,)


class _InputRecordingLR(LogisticRegression):
    """Test double: a logistic regression that records what it is fitted on."""

    seen = []

    def fit(self, X, y, sample_weight=None):
        type(self).seen.append(type(X))
        return super().fit(X, y, sample_weight=sample_weight)


def test_cost_stage_gives_a_users_estimator_the_frame_and_the_default_an_array():
    X, y = table()
    X = X.drop(columns="group")  # all numeric: no encoding in front of f
    batch = X.iloc[:8].assign(x=X["x"].iloc[:8] + 0.1)
    _InputRecordingLR.seen = []
    TrimQC(_InputRecordingLR(), stages=("cost",), cost_null_draws=20,
           random_state=0).fit(X, y).trim_batch(batch, y[:8])
    assert _InputRecordingLR.seen and set(_InputRecordingLR.seen) == {pd.DataFrame}
    default = TrimQC(stages=("cost",), cost_null_draws=20, random_state=0).fit(X, y)
    assert isinstance(default._M_ori, np.ndarray)
    # the same duel either way: the default pipeline reads values only
    cost_module.clear_cache()
    as_array = default.trim_batch(batch, y[:8])
    framed = TrimQC(clone(default.cost_duel_.estimator), stages=("cost",),
                    cost_null_draws=20, random_state=0).fit(X, y)
    assert isinstance(framed._M_ori, pd.DataFrame)
    as_frame = framed.trim_batch(batch, y[:8])
    assert as_array.delta == pytest.approx(as_frame.delta)
    assert as_array.keep.tolist() == as_frame.keep.tolist()
