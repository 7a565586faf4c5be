"""TeamTrimSampler: imblearn contract, determinism, inputs and outputs.

Most tests use ``model="test::uniform"`` (the grammar-only test double) and
small QC budgets: the subject is the sampler's contract, not the model.
Tests marked ``model`` run the real embedded model end to end.
"""

import logging
import random
import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch
from imblearn.pipeline import make_pipeline
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_validate

from skteam import TeamTrimSampler

FAST = dict(model="test::uniform", verbose=0, cost_null_draws=20, random_state=0)


def small_frame(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "age": rng.integers(18, 70, n),
        "bmi": np.round(rng.normal(27, 4, n), 1),
        "sex": pd.Categorical(rng.choice(["F", "M"], n)),
        "smoker": rng.choice(["yes", "no"], n).astype(object),
    })
    y = pd.Series(np.where(np.arange(n) < n // 4, 1, 0), name="sick")
    return X, y


def test_exact_counts_pandas_round_trip_no_qc():
    X, y = small_frame()
    X0, y0 = X.copy(), y.copy()
    s = TeamTrimSampler(qc=(), **FAST)
    Xr, yr = s.fit_resample(X, y)
    pd.testing.assert_frame_equal(X, X0)          # input not mutated
    pd.testing.assert_series_equal(y, y0)
    assert Counter(yr) == {0: 30, 1: 30}
    assert list(Xr.columns) == list(X.columns)
    assert (Xr.dtypes == X.dtypes).all()
    assert isinstance(Xr["sex"].dtype, pd.CategoricalDtype)
    assert yr.name == "sick"
    assert s.synthetic_mask_.sum() == 20 and not s.synthetic_mask_[:40].any()
    pd.testing.assert_frame_equal(Xr[~s.synthetic_mask_].reset_index(drop=True), X)
    assert set(Xr["smoker"]) <= {"yes", "no"}
    stats = s.generation_stats_
    for key in ["llm_calls", "input_tokens", "output_tokens", "cells",
                "parse_failures", "seconds"]:
        assert key in stats
    assert stats["parse_failures"] == 0
    assert {r["name"] for r in s.plan_["roles"]}
    assert s.schema_.names == list(X.columns)
    assert s.schema_.target == "sick"             # prompts call the label by its name


def test_a_column_with_one_value_keeps_it_in_generated_rows():
    X, y = small_frame()
    X["site"], X["dose"] = 7, -2.5
    Xr, _ = TeamTrimSampler(qc=(), **FAST).fit_resample(X, y)
    assert set(Xr["site"]) == {7} and set(Xr["dose"]) == {-2.5}


def test_dict_strategy_and_multiclass():
    X, y = small_frame(60)
    y = pd.Series(np.repeat(["a", "b", "c"], [30, 20, 10]), name="grp")
    s = TeamTrimSampler(qc=(), sampling_strategy={"b": 25, "c": 25}, **FAST)
    Xr, yr = s.fit_resample(X, y)
    assert Counter(yr) == {"a": 30, "b": 25, "c": 25}


def test_numpy_and_list_inputs_match_dataframe():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3)).round(2)
    y = np.array([0] * 22 + [1] * 8)
    s = TeamTrimSampler(qc=(), **FAST)
    Xa, ya = s.fit_resample(X, y)
    Xl, yl = clone(s).fit_resample(X.tolist(), y.tolist())
    Xd, yd = clone(s).fit_resample(pd.DataFrame(X, columns=["0", "1", "2"]), y)
    assert isinstance(Xa, np.ndarray) and isinstance(Xl, list)
    np.testing.assert_allclose(Xa, Xl)
    np.testing.assert_allclose(Xa, Xd.to_numpy())
    assert Xa.dtype == X.dtype


def test_seed_reproducible_and_no_global_rng_change():
    X, y = small_frame()
    states = (np.random.get_state()[1].copy(), torch.random.get_rng_state().clone(),
              random.getstate())
    a = TeamTrimSampler(**FAST).set_params(on_shortfall="warn").fit_resample(X, y)
    b = TeamTrimSampler(**FAST).set_params(on_shortfall="warn").fit_resample(X, y)
    assert np.array_equal(np.random.get_state()[1], states[0])
    assert torch.equal(torch.random.get_rng_state(), states[1])
    assert random.getstate() == states[2]
    pd.testing.assert_frame_equal(a[0], b[0])
    c = TeamTrimSampler(**{**FAST, "random_state": 1}).set_params(
        on_shortfall="warn", qc=()).fit_resample(X, y)
    assert not a[0].equals(c[0])


def test_qc_report_and_shortfall_error():
    X, y = small_frame()
    s = TeamTrimSampler(**FAST, max_batches=2, cost_c=50.0, on_shortfall="raise")
    with pytest.raises(ValueError, match=r"class 1 got \d+ of 20 rows.*cost.*"
                       r"or pass on_shortfall='warn'"):
        s.fit_resample(X, y)
    report = s.qc_report_
    # no row passed the first batch, and the one batch left could not give
    # 20 rows even whole: the class stopped there
    assert len(report) == 1 and report["kept"].sum() == 0
    assert s.generation_stats_["stopped_early"] == {1: 1}
    for col in ["class", "n_generated", "dropped_sanity", "dropped_cost",
                "dropped_diversity", "delta", "tau", "entropy_gain", "verdict",
                "output_tokens", "seconds"]:
        assert col in report
    with pytest.warns(UserWarning, match="could not fill") as caught:
        Xr, yr = s.set_params(on_shortfall="warn").fit_resample(X, y)
    assert Counter(yr)[1] < 30
    # the warning does not suggest the setting already in use
    assert not any("on_shortfall='warn'" in str(w.message) for w in caught)


def test_fill_completes_quotas_with_sane_rejected_rows():
    # test double: a strict cost duel rejects most batches; "fill" (the
    # default) completes the exact counts with rows that passed sanity only
    X, y = small_frame()
    params = dict(FAST, max_batches=4, cost_c=50.0, constraints=["age <= 60"],
                  labeling="target")  # every sane row can fill class 1
    strict = TeamTrimSampler(**params, on_shortfall="warn")
    with pytest.warns(UserWarning, match="could not fill"):
        _, y_warn = strict.fit_resample(X, y)
    trimmed = Counter(y_warn)[1] - Counter(y)[1]
    s = TeamTrimSampler(**params)
    assert s.on_shortfall == "fill"
    with pytest.warns(UserWarning, match=r"rows of class 1 .*\(\d+% of the generated "
                                         r"rows returned\) are generated rows that "
                                         r"passed the sanity stage"):
        Xr, yr = s.fit_resample(X, y)
    assert Counter(yr) == Counter({0: 30, 1: 30})
    report = s.qc_report_
    filled = int(report["filled"].sum())
    assert filled == s.generation_stats_["filled_rows"] == 20 - trimmed > 0
    assert s.generation_stats_["filled_share"] == pytest.approx(filled / 20, abs=1e-4)
    # only batches the later stages rejected give rows, never sanity failures
    assert (report.loc[report["filled"] > 0, "dropped_cost"] > 0).all()
    assert (Xr[s.synthetic_mask_]["age"] <= 60).all()
    # the first rows are those the QC accepted, as with on_shortfall="warn"
    pd.testing.assert_frame_equal(
        Xr[s.synthetic_mask_ & (yr == 1)].head(trimmed).reset_index(drop=True),
        strict.fit_resample(X, y)[0][strict.synthetic_mask_ & (y_warn == 1)]
        .reset_index(drop=True), check_dtype=False)


def test_fill_still_short_raises():
    X, y = small_frame()
    s = TeamTrimSampler(**FAST, max_batches=1, qc=("sanity", "cost"),
                        constraints=["age >= 200"])  # no row is sane
    with pytest.raises(ValueError, match=r"could not fill.*on_shortfall='fill'"):
        s.fit_resample(X, y)
    assert s.qc_report_["filled"].sum() == 0


def test_shortfall_message_names_the_label_worker(monkeypatch):
    # test double for the label worker: every row goes to class 0, whose
    # quota is empty, so class 1 gets nothing and "fill" has no reserve
    import skteam.team.generation as generation_module
    from skteam.cache import clear_streams

    def all_zero(backend, schema, pool, groups, keys, **kw):
        return [[0] * len(rows) for rows in groups]

    monkeypatch.setattr(generation_module, "label_rows", all_zero)
    clear_streams()  # raw batches of earlier fits carry the real labels
    X, y = small_frame()
    s = TeamTrimSampler(**FAST, max_batches=2, batch_size=10)
    with pytest.raises(ValueError, match=r"class 1 got 0 of 20 rows after 2 batches "
                                         r"\(most rows lost to: the label worker, "
                                         r"which put them in another class; 20 rows "
                                         r"generated for it: 20 labelled as another "
                                         r"class"):
        s.fit_resample(X, y)
    assert (s.qc_report_["relabelled"] == s.qc_report_["n_generated"]).all()


def test_labeling_target_keeps_the_requested_class_without_a_label_call():
    from skteam.cache import clear_streams

    clear_streams()
    X, y = small_frame()
    worker = TeamTrimSampler(**FAST, qc=())
    target = TeamTrimSampler(**FAST, qc=(), labeling="target")
    Xw, yw = worker.fit_resample(X, y)
    Xt, yt = target.fit_resample(X, y)
    assert Counter(yt) == Counter(yw) == Counter({0: 30, 1: 30})
    # "auto" on a model other than the embedded one: the label worker
    assert worker.generation_stats_["labeling"] == "worker"
    assert target.generation_stats_["labeling"] == "target"
    # the test double's label worker relabels some rows; "target" never does
    assert worker.qc_report_["relabelled"].sum() > 0
    assert target.qc_report_["relabelled"].sum() == 0
    # one call fewer per chunk: no label worker
    assert (target.generation_stats_["llm_calls"]
            < worker.generation_stats_["llm_calls"])


def test_labeling_classifier_relabels_the_target_stream():
    from skteam.cache import clear_streams

    clear_streams()
    X, y = small_frame()
    target = TeamTrimSampler(**FAST, qc=(), labeling="target")
    clf = TeamTrimSampler(**FAST, qc=(), labeling="classifier")
    target.fit_resample(X, y)
    Xc, yc = clf.fit_resample(X, y)
    assert Counter(yc) == Counter({0: 30, 1: 30})
    assert clf.generation_stats_["labeling"] == "classifier"
    # the rows "target" wrote are read back from the shared stream
    assert clf.generation_stats_["cached_batches"] > 0
    # the classifier (logistic regression on 40 rows) disagrees with some
    # of the classes the rows were written for, and says so in the report
    assert clf.qc_report_["relabelled"].sum() > 0
    sources = set(clf.provenance_["label_source"])
    assert sources <= {"classifier", "other"} and "classifier" in sources


def test_labeling_is_validated():
    X, y = small_frame()
    with pytest.raises(ValueError, match="labeling"):
        TeamTrimSampler(**FAST, labeling="oracle").fit_resample(X, y)


@pytest.mark.parametrize("rule, narrowed", [
    # one column, nothing else to know: the worker's grammar holds it
    ("age <= 40", True),
    # a disjunction narrows no grammar: sanity drops the rows breaking it
    ("age <= 40 or bmi >= 35", False),
])
def test_constraints_are_enforced_by_grammar_or_sanity(rule, narrowed):
    X, y = small_frame()
    s = TeamTrimSampler(qc=("sanity",), constraints=[rule],
                        on_shortfall="warn", max_batches=3, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shortfall when sanity drops rows
        Xr, yr = s.fit_resample(X, y)
    new = Xr[s.synthetic_mask_]
    assert ((new["age"] <= 40) | (new["bmi"] >= 35)).all()
    dropped = s.qc_report_["dropped_sanity"].sum()
    assert (dropped == 0) if narrowed else (dropped > 0)


def test_user_plan_is_used_and_validated(tmp_path):
    X, y = small_frame()
    plan = {"roles": [{"name": "Person", "features": ["age", "sex"]},
                      {"name": "Health", "features": ["bmi", "smoker"]}],
            "edges": [["Person", "Health"]]}
    s = TeamTrimSampler(qc=(), plan=plan, **FAST).fit(X, y)
    s.fit_resample(X, y)
    assert s.plan_["source"] == "user" and s.plan_["edges"] == [["Person", "Health"]]
    bad = {"roles": [{"name": "A", "features": ["age", "nope"]}]}
    with pytest.raises(ValueError, match="unknown feature 'nope'"):
        TeamTrimSampler(qc=(), plan=bad, **FAST).fit_resample(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"cost_beta": 0.7}, "cost_beta"),
        ({"qc": ("sanity", "magic")}, "unknown stages"),
        ({"on_shortfall": "ignore"}, "on_shortfall"),
        ({"sampling_strategy": {"zzz": 10}}, "zzz"),
        ({"constraints": ["agee > 1"]}, "unknown column 'agee'"),
        ({"model": "/no/such/model"}, "does not exist"),
    ],
)
def test_bad_parameters(params, match):
    X, y = small_frame()
    with pytest.raises(ValueError, match=match):
        TeamTrimSampler(**{**FAST, **params}).fit_resample(X, y)


def test_estimator_without_predict_proba():
    from sklearn.svm import LinearSVC

    X, y = small_frame()
    with pytest.raises(TypeError, match="predict_proba"):
        TeamTrimSampler(estimator=LinearSVC(), **FAST).fit_resample(X, y)


def test_pipeline_cross_validate_and_grid_search():
    X, y = small_frame(60)
    X = X[["age", "bmi"]]
    pipe = make_pipeline(TeamTrimSampler(qc=(), **FAST), LogisticRegression())
    scores = cross_validate(pipe, X, y, cv=3)
    assert len(scores["test_score"]) == 3
    grid = GridSearchCV(
        make_pipeline(TeamTrimSampler(**{**FAST, "on_shortfall": "warn"}),
                      LogisticRegression()),
        {"teamtrimsampler__cost_c": [0.0, 1.0]}, cv=2)
    grid.fit(X, y)
    assert grid.best_params_["teamtrimsampler__cost_c"] in (0.0, 1.0)


@pytest.mark.model
@pytest.mark.parametrize("labeling, used", [("auto", "target"), ("worker", "worker")])
def test_end_to_end_with_embedded_model(labeling, used):
    X, y = small_frame(30)
    s = TeamTrimSampler(random_state=0, verbose=0, qc=("sanity",),
                        sampling_strategy={1: 12}, labeling=labeling)
    Xr, yr = s.fit_resample(X, y)
    assert Counter(yr)[1] == 12
    new = Xr[s.synthetic_mask_]
    assert len(new) == 5
    sch = s.schema_
    assert new["age"].between(sch["age"].low, sch["age"].high).all()
    assert set(new["smoker"]) <= {"yes", "no"}
    assert s.generation_stats_["parse_failures"] == 0
    assert s.generation_stats_["output_tokens_per_cell"] <= 4
    assert s.generation_stats_["labeling"] == used
    if used == "target":  # the embedded model's rows keep the requested class
        assert s.qc_report_["relabelled"].sum() == 0


def _criminal_record(n=40, seed=0):
    rng = np.random.default_rng(seed)
    juv = rng.choice([0, 0, 0, 1, 2, 4], n)
    X = pd.DataFrame({"juv_fel_count": juv,
                      "priors_count": juv + rng.integers(0, 12, n),
                      "age": rng.integers(18, 70, n)})
    return X, pd.Series(np.where(np.arange(n) < n // 4, 1, 0))


CHAIN = {"roles": [{"name": "youth", "features": ["age", "juv_fel_count"]},
                   {"name": "record", "features": ["priors_count"]}],
         "edges": [["youth", "record"]]}
REVERSED = {"roles": [{"name": "record", "features": ["age", "priors_count"]},
                      {"name": "youth", "features": ["juv_fel_count"]}],
            "edges": [["record", "youth"]]}
ONE_ROLE = {"roles": [{"name": "all", "features": ["age", "juv_fel_count",
                                                   "priors_count"]}]}


def test_constraints_narrow_the_worker_of_their_last_column(caplog):
    # test double: uniform rows within the grammar violate the relation
    # often unless the grammar narrows the later column's range
    X, y = _criminal_record()
    rule = ["priors_count >= juv_fel_count"]
    used = []

    def generated(plan, constraints):
        s = TeamTrimSampler(**{**FAST, "qc": (), "plan": plan,
                               "constraints": constraints,
                               "sampling_strategy": {0: 100, 1: 100}})
        Xr, _ = s.fit_resample(X, y)
        new = Xr[s.synthetic_mask_]
        used.append(s.plan_)
        return new, (new["priors_count"] >= new["juv_fel_count"]).mean()

    for plan in (CHAIN, REVERSED):
        free, rate_free = generated(plan, None)
        bound, rate_bound = generated(plan, rule)
        assert rate_free < 0.95 and rate_bound == 1.0
        assert len(bound) == 160
    # the task manager's plan is reordered so that the constraint binds
    free, rate_free = generated(None, None)
    bound, rate_bound = generated(None, rule)
    assert rate_free < 0.95 and rate_bound == 1.0
    assert not any(rule[0] in r for r in used[-2]["repairs"])
    assert any(f"keeps to {rule[0]!r}" in r for r in used[-1]["repairs"])
    # one role of the user's plan writes both columns: nothing to narrow
    free, rate_free = generated(ONE_ROLE, None)
    with caplog.at_level(logging.INFO, logger="skteam"):
        same, _ = generated(ONE_ROLE, rule)
    assert rate_free < 0.95
    pd.testing.assert_frame_equal(free, same)
    assert "only the sanity stage checks them" in caplog.text


@pytest.mark.model
def test_constraints_narrow_the_workers_of_the_embedded_model():
    X, y = _criminal_record()
    s = TeamTrimSampler(random_state=0, verbose=0, qc=(), plan=CHAIN,
                        constraints=["priors_count >= juv_fel_count"],
                        sampling_strategy={1: 20})
    Xr, _ = s.fit_resample(X, y)
    new = Xr[s.synthetic_mask_]
    assert len(new) == 10
    assert (new["priors_count"] >= new["juv_fel_count"]).all()


def _subsample(X, y, n, seed=0):
    idx = np.random.default_rng(seed).permutation(len(X))[:n]
    return X.iloc[idx].reset_index(drop=True), y.iloc[idx].reset_index(drop=True)


@pytest.mark.slow
@pytest.mark.parametrize("table", ["compas", "drug"])
def test_pipeline_on_real_tables_with_embedded_model(table):
    from skteam.datasets import load_compas, load_drug

    if table == "compas":
        X, y = load_compas()
    else:
        X, y = load_drug(encode=True)
    X, y = _subsample(X, y, 40)
    # the defaults (max_batches from the quota, on_shortfall="fill"): exact
    # counts even when the QC rejects batches
    sampler = TeamTrimSampler(random_state=0, verbose=0)
    pipe = make_pipeline(sampler, LogisticRegression(max_iter=1000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fill warnings: QC may reject batches
        scores = cross_validate(pipe, X, y, cv=2, error_score="raise")
        grid = GridSearchCV(pipe, {"teamtrimsampler__cost_c": [0.0, 1.0]}, cv=2,
                            error_score="raise").fit(X, y)
    assert np.isfinite(scores["test_score"]).all()
    assert np.isfinite(grid.best_score_)


def test_class_out_of_reach_stops_before_max_batches():
    # test double: the strict cost duel passes few batches, so max_batches
    # cannot fill class 1's quota; "raise" and "fill" stop early, "warn"
    # spends the whole budget
    X, y = small_frame()
    params = dict(FAST, max_batches=30, cost_c=50.0, batch_size=5)
    warn = TeamTrimSampler(**params, on_shortfall="warn")
    with pytest.warns(UserWarning, match="could not fill"):
        warn.fit_resample(X, y)
    assert len(warn.qc_report_) == 30
    assert warn.generation_stats_["stopped_early"] == {}

    s = TeamTrimSampler(**params, on_shortfall="raise")
    with pytest.raises(ValueError, match=r"class 1 got \d+ of 20 rows.*stopped after"):
        s.fit_resample(X, y)
    n_raise = len(s.qc_report_)
    assert s.generation_stats_["stopped_early"] == {1: n_raise}
    assert n_raise < 30
    # the batches read are the first ones the "warn" fit read
    timing = ["seconds", "cached"]
    pd.testing.assert_frame_equal(s.qc_report_.drop(columns=timing),
                                  warn.qc_report_.head(n_raise).drop(columns=timing))

    fill = TeamTrimSampler(**params)
    with pytest.warns(UserWarning, match="stopped after"):
        _, yr = fill.fit_resample(X, y)
    assert Counter(yr) == {0: 30, 1: 30}
    n_fill = fill.generation_stats_["stopped_early"][1]
    assert n_raise <= n_fill == len(fill.qc_report_) < 30
    # it stopped only once the sane rejected rows could fill the quota
    report = fill.qc_report_
    accepted = int(report["kept"].sum())
    assert int(report["filled"].sum()) == 20 - accepted


@pytest.mark.parametrize("passed, tried, left, needed, out", [
    (0, 1, 100, 20, False),   # one batch tells little
    (0, 10, 5, 20, True),     # bound 0.26: 5 batches give at most ~13 rows
    (0, 10, 20, 20, False),   # ~52 rows are still within the bound
    (3, 10, 2, 20, True),
    (5, 5, 1, 20, False),     # every batch passed: no evidence against
    (0, 0, 1, 20, False),
])
def test_out_of_reach_bound(passed, tried, left, needed, out):
    from scipy.stats import beta

    from skteam.budget import out_of_reach

    assert out_of_reach(passed, tried, left, 10, needed) is out
    if 0 < tried and passed < tried:  # the one-sided Clopper-Pearson bound
        upper = beta.ppf(0.95, passed + 1, tried - passed)
        assert out == (left * upper * 10 < needed)
