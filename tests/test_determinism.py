"""Determinism and isolation: same input and seed give the same bytes.

Parallelism comes from the caller (``GridSearchCV(n_jobs=...)``) or from
the sampler's own ``n_jobs`` (worker processes for the cost duel's null
draws), so the "across n_jobs" checks run grid searches with one job, two
threads and two loky processes, and a fit with ``n_jobs=2``. Fast tests use
``model="test::uniform"``, the grammar-only test double; the ``slow`` test
repeats the byte-identity and RNG checks with the real embedded model.
Between runs the in-process batch cache is cleared, so the second run
generates again rather than reading the first run's batches.
"""

import importlib
import pickle
import random
import threading
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from imblearn.pipeline import make_pipeline
from joblib import parallel_backend
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from skteam import TeamTrimSampler
from skteam.cache import clear_streams
from skteam.llm import get_backend
from skteam.llm import registry as registry_module

FAST = dict(model="test::uniform", verbose=0, cost_null_draws=20, random_state=0,
            on_shortfall="warn", max_batches=3, batch_size=5)


def frame(n=30):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({
        "age": rng.integers(18, 70, n),
        "bmi": np.round(rng.normal(27, 4, n), 1),
        "smoker": rng.choice(["yes", "no"], n).astype(object),
    })
    y = pd.Series(np.where(np.arange(n) < 8, 1, 0), name="sick")
    return X, y


def rng_states():
    return (pickle.dumps(np.random.get_state()), torch.random.get_rng_state().clone(),
            random.getstate())


def assert_same_states(before, after):
    assert pickle.dumps(np.random.get_state()) == before[0], "numpy global RNG moved"
    assert torch.equal(after[1], before[1]), "torch global RNG moved"
    assert after[2] == before[2], "random module state moved"


def output_bytes(sampler, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        Xr, yr = sampler.fit_resample(X, y)
    report = sampler.qc_report_.drop(columns=["seconds", "cached"])
    return (Xr.to_csv(index=False).encode(), np.asarray(yr).tobytes(),
            report.to_csv(index=False).encode(), sampler.plan_)


@pytest.mark.parametrize("params", [
    {"qc": ("sanity", "cost", "diversity")},
    {"qc": ("sanity", "cost"), "estimator": RandomForestClassifier(n_estimators=5)},
])
def test_same_seed_same_bytes_and_no_global_rng_change(params):
    X, y = frame()
    np.random.seed(123)
    random.seed(123)
    torch.manual_seed(123)
    before = rng_states()
    clear_streams()
    first = output_bytes(TeamTrimSampler(**FAST, **params), X, y)
    clear_streams()
    second = output_bytes(TeamTrimSampler(**FAST, **params), X, y)
    assert first == second
    assert_same_states(before, rng_states())
    clear_streams()
    other = output_bytes(TeamTrimSampler(**{**FAST, **params, "random_state": 1}),
                         X, y)
    # another seed generates other rows: the output differs, or (when the QC
    # keeps none of them, on_shortfall='warn') the batch report does
    assert other[0] != first[0] or other[2] != first[2]


def test_n_jobs_changes_nothing_but_the_time(monkeypatch):
    """The sampler's n_jobs: null draws in two loky workers, the same bytes."""
    from skteam.qc import cost as cost_module

    calls = []

    class Counted(cost_module.Parallel):
        def __call__(self, tasks):
            calls.append(self.n_jobs)
            return super().__call__(tasks)

    monkeypatch.setattr(cost_module, "Parallel", Counted)
    X, y = frame()
    params = {**FAST, "cost_null_draws": 100, "qc": ("sanity", "cost")}
    clear_streams()
    cost_module.clear_cache()
    serial = output_bytes(TeamTrimSampler(**params), X, y)
    clear_streams()
    cost_module.clear_cache()
    assert not calls
    assert output_bytes(TeamTrimSampler(**params, n_jobs=2), X, y) == serial
    assert calls and set(calls) == {2}


def test_unseeded_runs_leave_global_rngs_alone():
    X, y = frame()
    before = rng_states()
    output_bytes(TeamTrimSampler(**{**FAST, "random_state": None, "qc": ("cost",)}),
                 X, y)
    assert_same_states(before, rng_states())


def _grid_scores(n_jobs, backend):
    X, y = frame(40)
    X = X[["age", "bmi"]]
    pipe = make_pipeline(TeamTrimSampler(**{**FAST, "qc": ("sanity", "cost")}),
                         LogisticRegression())
    grid = GridSearchCV(pipe, {"teamtrimsampler__cost_c": [0.0, 2.0]}, cv=2,
                        n_jobs=n_jobs, error_score="raise")
    clear_streams()
    # loky workers are fresh processes: each imports skteam.testing (which
    # registers model="test::uniform") before its first task
    workers = ({"initializer": importlib.import_module, "initargs": ("skteam.testing",)}
               if backend == "loky" else {})
    with warnings.catch_warnings(), parallel_backend(backend, n_jobs=n_jobs, **workers):
        warnings.simplefilter("ignore", UserWarning)
        grid.fit(X, y)
    return [grid.cv_results_[f"split{i}_test_score"].tolist() for i in range(2)]


def test_grid_search_gives_the_same_scores_for_any_n_jobs_and_backend():
    serial = _grid_scores(1, "threading")
    assert _grid_scores(2, "threading") == serial
    assert _grid_scores(2, "loky") == serial


def test_registry_loads_a_model_once_under_concurrency(monkeypatch):
    """Eight threads ask for one model at once.

    The factory is a slow test double that counts its loads.
    """
    monkeypatch.setattr(registry_module, "_REGISTRY", {})
    monkeypatch.setattr(registry_module, "_KEY_LOCKS", {})
    loads = []

    def slow_factory(target):
        loads.append(target)
        time.sleep(0.2)
        return object()

    monkeypatch.setitem(registry_module._EXTRA_KINDS, "test", slow_factory)
    start = threading.Barrier(8)
    got = []

    def worker():
        start.wait()
        got.append(get_backend("test::slow-double"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert loads == ["slow-double"]
    assert len(got) == 8 and len({id(b) for b in got}) == 1


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_same_seed_same_bytes_with_embedded_model(embedded_backend):
    X, y = frame()
    params = dict(model="embedded", verbose=0, random_state=0, on_shortfall="warn",
                  qc=("sanity",), batch_size=3, sampling_strategy={1: 11},
                  max_batches=2)
    before = rng_states()
    clear_streams()
    first = output_bytes(TeamTrimSampler(**params), X, y)
    clear_streams()
    second = output_bytes(TeamTrimSampler(**params), X, y)
    assert first == second
    assert_same_states(before, rng_states())
