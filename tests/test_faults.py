"""Faults during generation: no hang, no partial state, a clear error with the report.

The model is ``test::uniform`` (the grammar-only test double, no weights);
faults are injected by patching its ``generate`` or ``_forward`` for one
test (``monkeypatch`` restores them), so the faulty backend is the very
instance the registry hands out.
"""

import threading
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from skteam import TeamTrimSampler
from skteam.cache import _STREAMS, clear_streams
from skteam.llm import get_backend
from skteam.llm import registry as registry_module
from skteam.sampler import ShortfallError

PLAN = {"roles": [{"name": "All", "features": ["a", "b"]}]}
# uniform labels fill quotas only partly: shortfalls warn (except where tested)
BASE = dict(model="test::uniform", verbose=0, qc=(), random_state=0, batch_size=5,
            max_batches=2, plan=PLAN, on_shortfall="warn")


def three_classes():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.integers(0, 9, 30),
                      "b": np.round(rng.normal(size=30), 1)})
    y = np.array([0] * 16 + [1] * 7 + [2] * 7)
    return X, y


def fail_on_call(monkeypatch, backend, k, exc):
    """Make the k-th ``generate`` call of ``backend`` raise ``exc`` (test double)."""
    calls = {"n": 0}
    real = backend.generate

    def generate(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == k:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(backend, "generate", generate)
    return calls


def _result(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return TeamTrimSampler(**{**BASE, **params}).fit_resample(X, y)


@pytest.mark.parametrize("exc, oom", [
    (MemoryError(), True),
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"), True),
    (RuntimeError("MPS backend out of memory"), True),
    (RuntimeError("CUBLAS_STATUS_EXECUTION_FAILED"), False),
    (KeyboardInterrupt(), False),
])
def test_fault_mid_fit_keeps_report_and_leaves_no_partial_state(
        uniform_backend, monkeypatch, exc, oom):
    X, y = three_classes()
    clear_streams()
    # calls: features then labels of class 1's chunk; class 2's features fail
    fail_on_call(monkeypatch, uniform_backend, 3, exc)
    sampler = TeamTrimSampler(**BASE)
    with pytest.raises(type(exc)) as info:
        sampler.fit_resample(X, y)
    assert info.value is exc  # the original exception, type kept
    report = sampler.qc_report_
    assert list(report["class"]) == [1]  # the one batch read before the fault
    assert exc.qc_report is report
    notes = " ".join(getattr(exc, "__notes__", []))
    assert "while generating batch 0 of class 2" in notes
    assert ("ran out of memory; lower batch_size" in notes) == oom
    assert not hasattr(sampler, "synthetic_mask_")
    # the stream holds class 1's chunk and nothing of class 2's failed chunk
    (stream,) = _STREAMS.values()
    assert {c for c, _, _ in stream.batches} == {1}
    assert not stream.lock.locked()
    monkeypatch.undo()
    # finishing the fit from the cache gives what a clean fit gives
    after = _result(X, y)
    clear_streams()
    clean = _result(X, y)
    pd.testing.assert_frame_equal(after[0], clean[0])
    np.testing.assert_array_equal(after[1], clean[1])


def test_fault_in_the_manager_call_is_explained(uniform_backend, monkeypatch):
    X, y = three_classes()
    fail_on_call(monkeypatch, uniform_backend, 1, MemoryError())
    sampler = TeamTrimSampler(**{**BASE, "plan": None})
    with pytest.raises(MemoryError) as info:
        sampler.fit_resample(X, y)
    notes = " ".join(getattr(info.value, "__notes__", []))
    assert "task manager's call" in notes and "out of memory" in notes
    assert len(sampler.qc_report_) == 0 and info.value.qc_report is sampler.qc_report_


def test_interrupt_inside_the_model_releases_every_lock(uniform_backend, monkeypatch):
    """A KeyboardInterrupt raised deep in a forward pass leaves nothing locked."""
    X, y = three_classes()
    clear_streams()
    real = uniform_backend._forward
    calls = {"n": 0}

    def forward(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(uniform_backend, "_forward", forward)
    with pytest.raises(KeyboardInterrupt):
        _result(X, y)
    monkeypatch.undo()
    assert not uniform_backend._lock.locked()
    done = []
    worker = threading.Thread(target=lambda: done.append(_result(X, y)), daemon=True)
    worker.start()
    worker.join(timeout=300)
    assert not worker.is_alive(), "the next fit hung after an interrupt"
    assert done and len(done[0][0]) > len(X)


def test_batches_with_no_valid_row_end_in_a_shortfall(uniform_backend, monkeypatch):
    """A backend whose answers never parse (test double: empty texts)."""
    X, y = three_classes()
    clear_streams()
    monkeypatch.setattr(uniform_backend, "generate",
                        lambda prompts, grammars, **kw: [""] * len(prompts))
    sampler = TeamTrimSampler(**{**BASE, "on_shortfall": "raise"})
    expected = (r"class 1 got 0 of 9 rows after 2 batches \(most rows lost to: "
                r"answers that could not be parsed; 10 rows generated for it: 10 "
                r"not parsed\)")
    with pytest.raises(ShortfallError, match=expected) as info:
        sampler.fit_resample(X, y)
    report = info.value.qc_report
    assert report is sampler.qc_report_ and len(report) == 4  # 2 classes x 2 batches
    assert (report["verdict"] == "empty batch").all()
    assert (report["parse_failures"] == 5).all()
    assert info.value.got == {1: 0, 2: 0}
    with pytest.warns(UserWarning, match="could not fill every class quota"):
        Xr, yr = sampler.set_params(on_shortfall="warn").fit_resample(X, y)
    assert len(Xr) == len(X) and not sampler.synthetic_mask_.any()


def test_backend_answering_too_few_texts_is_a_clear_error(uniform_backend, monkeypatch):
    X, y = three_classes()
    clear_streams()
    monkeypatch.setattr(uniform_backend, "generate", lambda prompts, grammars, **kw: [])
    with pytest.raises(RuntimeError, match=r"answered \d+ prompts with 0 texts"):
        _result(X, y)
    assert all(not s.batches for s in _STREAMS.values())


def test_every_batch_rejected_by_qc():
    X, y = three_classes()
    sampler = TeamTrimSampler(**{**BASE, "qc": ("sanity",),
                                 "constraints": ["a <= -1"], "on_shortfall": "raise"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # real rows break the constraint too
        with pytest.raises(ShortfallError, match=r"most rows lost to: the sanity "
                                                 r"stage.*See qc_report_") as info:
            sampler.fit_resample(X, y)
    report = info.value.qc_report
    # one batch per class: the one batch left (5 rows) could not give the 9
    # rows each class needs, so generation stopped before max_batches=2
    assert len(report) == 2 and report["kept"].sum() == 0
    assert sampler.generation_stats_["stopped_early"] == {1: 1, 2: 1}
    assert (report["dropped_sanity"] == report["n_generated"]).all()


def test_a_failed_model_load_leaves_no_registry_entry(monkeypatch):
    """A backend constructor that runs out of memory (test double)."""
    calls = {"n": 0}

    def boom(target):
        calls["n"] += 1
        raise MemoryError("could not allocate the weights")

    monkeypatch.setitem(registry_module._EXTRA_KINDS, "test", boom)
    before = registry_module.loaded_backends()
    for _ in range(2):  # a second attempt tries again: nothing half-made was kept
        with pytest.raises(MemoryError):
            get_backend("test::nope-not-loaded")
    assert calls["n"] == 2
    assert registry_module.loaded_backends() == before
