"""The raw-batch cache: what is written to disk is read back only when intact.

Most tests drive :class:`skteam.cache.BatchStream` with ``fake_produce``, a
labelled test double that makes numbered batches without any model; one
few run the sampler with ``model="test::uniform"`` (the grammar-only test
double), with an on-disk cache or around the remembered plans.
"""

import json
import logging
import threading

import numpy as np
import pandas as pd
import pytest

from skteam import TeamTrimSampler
from skteam.cache import (
    _PLANS,
    _STREAMS,
    FORMAT_VERSION,
    BatchStream,
    RawBatch,
    clear_streams,
    fingerprint,
    model_token,
    remember_plan,
)
from skteam.team import planning

KEY = "a" * 64
CLASSES = [np.int64(0), np.int64(1)]


class fake_produce:
    """Test double for the generator: batch ``i`` of class ``c`` holds ``[[c, i]]``.

    Counts its calls; raises ``fail`` (when set) instead of producing.
    """

    def __init__(self, fail=None):
        self.calls = 0
        self.fail = fail

    def __call__(self, target, first, n):
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return [RawBatch(target=target, index=first + b,
                         rows=[[int(target), first + b]], labels=[target],
                         usage={"output_tokens": 3})
                for b in range(n)]


def filled(tmp_path, key=KEY):
    stream = BatchStream(key, CLASSES, tmp_path)
    stream.get(CLASSES[1], 0, fake_produce(), 2)
    return stream


def test_round_trip_restores_batches_and_label_types(tmp_path):
    filled(tmp_path)
    again = BatchStream(KEY, CLASSES, tmp_path)
    assert again.loaded_from_disk
    produce = fake_produce()
    batch, hit = again.get(CLASSES[1], 1, produce, 2)
    assert hit and produce.calls == 0
    assert batch.rows == [[1, 1]] and batch.labels == [1]
    assert type(batch.labels[0]) is np.int64 and type(batch.target) is np.int64


def test_round_trip_keeps_examples_and_sign_anchors(tmp_path):
    stream = BatchStream(KEY, CLASSES, tmp_path)
    made = RawBatch(target=CLASSES[1], index=0, rows=[[1, 0], [1, 1]],
                    labels=[CLASSES[1]] * 2, examples=[[3, 4], [5]],
                    sign_anchors=[4, 5])
    stream.get(CLASSES[1], 0, lambda target, first, n: [made], 1)
    batch, hit = BatchStream(KEY, CLASSES, tmp_path).get(
        CLASSES[1], 0, fake_produce(), 1)
    assert hit and batch.examples == [[3, 4], [5]] and batch.sign_anchors == [4, 5]


def _rewrite(stream, edit):
    doc = json.loads(stream.path.read_text())
    edit(doc)
    stream.path.write_text(json.dumps(doc))


def _with_checksum(doc):
    import hashlib

    payload = json.dumps(doc["batches"], sort_keys=True)
    doc["checksum"] = hashlib.sha256(payload.encode()).hexdigest()


def _other_key(doc):
    doc["key"] = "b" * 64


def _tampered_rows(doc):
    doc["batches"][0]["rows"] = [[1, 999]]


def _tampered_rows_new_checksum_other_key(doc):
    doc["batches"][0]["rows"] = [[1, 999]]
    doc["key"] = "b" * 64
    _with_checksum(doc)


def _old_format(doc):
    doc["format"] = FORMAT_VERSION + 1


def _unknown_class(doc):
    doc["batches"][0]["labels"] = [7]
    _with_checksum(doc)


def _not_a_dict(doc):
    doc.clear()


@pytest.mark.parametrize("edit", [_other_key, _tampered_rows,
                                  _tampered_rows_new_checksum_other_key, _old_format,
                                  _unknown_class, _not_a_dict])
def test_mismatched_or_tampered_files_are_never_read(tmp_path, caplog, edit):
    stream = filled(tmp_path)
    _rewrite(stream, edit)
    with caplog.at_level(logging.WARNING, logger="skteam"):
        again = BatchStream(KEY, CLASSES, tmp_path)
    assert not again.loaded_from_disk and again.batches == {}
    assert "Ignoring the unreadable or mismatched cache file" in caplog.text
    produce = fake_produce()
    batch, hit = again.get(CLASSES[1], 0, produce, 2)
    assert not hit and produce.calls == 1 and batch.rows == [[1, 0]]
    # the bad file was replaced by a good one
    assert BatchStream(KEY, CLASSES, tmp_path).loaded_from_disk


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe\x00garbage",
                                     b"[1, 2, 3]", b'{"format": 1}'])
def test_corrupt_files_are_ignored(tmp_path, caplog, content):
    stream = filled(tmp_path)
    stream.path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="skteam"):
        again = BatchStream(KEY, CLASSES, tmp_path)
    assert again.batches == {} and not again.loaded_from_disk
    assert "Ignoring" in caplog.text


def test_a_file_is_read_only_under_its_own_key(tmp_path):
    stream = filled(tmp_path, key=KEY)
    # the file of one key copied to where another key's file would be
    other = BatchStream("c" * 64, CLASSES, None)
    other.cache_dir = tmp_path
    other.path.write_text(stream.path.read_text())
    assert BatchStream("c" * 64, CLASSES, tmp_path).batches == {}


def test_failed_production_leaves_no_partial_state(tmp_path):
    stream = BatchStream(KEY, CLASSES, tmp_path)
    for exc in (MemoryError(), KeyboardInterrupt(), RuntimeError("out of memory")):
        with pytest.raises(type(exc)):
            stream.get(CLASSES[0], 0, fake_produce(fail=exc), 3)
        assert stream.batches == {}
        assert not stream.path.exists()
        assert not list(tmp_path.glob("*.tmp"))
        assert not stream.lock.locked()  # the next caller does not hang
    batch, hit = stream.get(CLASSES[0], 2, fake_produce(), 3)
    assert not hit and batch.rows == [[0, 2]]
    assert sorted(i for _, _, i in stream.batches) == [0, 1, 2]


def test_concurrent_readers_produce_a_chunk_once():
    stream = BatchStream(KEY, CLASSES)
    produce = fake_produce()
    got = []
    threads = [threading.Thread(target=lambda: got.append(
        stream.get(CLASSES[0], 1, produce, 4)[0])) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert produce.calls == 1 and len({id(b) for b in got}) == 1


def test_fingerprint_sees_data_dtypes_and_names():
    X = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    base = fingerprint(X, np.array([0, 1]), {"p": 1})
    assert base == fingerprint(X.copy(), np.array([0, 1]), {"p": 1})
    assert base != fingerprint(X.assign(a=[1, 3]), np.array([0, 1]), {"p": 1})
    assert base != fingerprint(X.astype({"a": "float64"}), np.array([0, 1]), {"p": 1})
    assert base != fingerprint(X.rename(columns={"a": "A"}), np.array([0, 1]), {"p": 1})
    assert base != fingerprint(X, np.array([1, 0]), {"p": 1})
    assert base != fingerprint(X, np.array([0, 1]), {"p": 2})


def test_sampler_never_reads_a_corrupt_cache_back(tmp_path, caplog):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.integers(0, 9, 20),
                      "b": np.round(rng.normal(size=20), 1)})
    y = np.array([0] * 14 + [1] * 6)
    params = dict(model="test::uniform", verbose=0, qc=(), random_state=0,
                  batch_size=4, cache_dir=tmp_path,
                  plan={"roles": [{"name": "All", "features": ["a", "b"]}]})
    clear_streams()
    fresh = TeamTrimSampler(**params)
    first = fresh.fit_resample(X, y)
    (path,) = tmp_path.glob("skteam-stream-*.json")
    doc = json.loads(path.read_text())
    doc["batches"][0]["rows"][0][0] = 10**6  # a value no fit could generate
    path.write_text(json.dumps(doc))
    clear_streams()
    with caplog.at_level(logging.WARNING, logger="skteam"):
        sampler = TeamTrimSampler(**params)
        second = sampler.fit_resample(X, y)
    assert "Ignoring the unreadable or mismatched cache file" in caplog.text
    # as many batches came from the cache as in a fit without a file
    stats = sampler.generation_stats_
    assert stats["cached_batches"] == fresh.generation_stats_["cached_batches"]
    assert stats["cached_batches"] < len(sampler.qc_report_)
    pd.testing.assert_frame_equal(pd.DataFrame(second[0]), pd.DataFrame(first[0]))
    np.testing.assert_array_equal(second[1], first[1])
    # the rewritten file is intact and is read back by the next fit
    clear_streams()
    third = TeamTrimSampler(**params)
    third.fit_resample(X, y)
    assert third.generation_stats_["cached_batches"] == len(third.qc_report_) > 0


def test_quota_of_another_class_does_not_split_the_stream():
    """Test double: a fit that changes only class 2's quota reads class 0 back."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.integers(0, 9, 60),
                      "b": np.round(rng.normal(size=60), 1)})
    y = np.array([0] * 10 + [1] * 40 + [2] * 10)
    params = dict(model="test::uniform", verbose=0, qc=(), random_state=0,
                  batch_size=4, labeling="target",
                  plan={"roles": [{"name": "All", "features": ["a", "b"]}]})
    clear_streams()
    first = TeamTrimSampler(sampling_strategy={0: 30, 2: 30}, **params)
    X1, y1 = first.fit_resample(X, y)
    second = TeamTrimSampler(sampling_strategy={0: 30, 2: 12}, **params)
    X2, y2 = second.fit_resample(X, y)
    report = second.qc_report_
    assert len(_STREAMS) == 1
    assert (report["class"] == 0).sum() > 0
    zero = report[report["class"] == 0]
    assert zero["cached"].all() and not report[report["class"] == 2]["cached"].any()
    # class 0's rows are those of the first fit

    def new_zeros(sampler, X_res, y_res):
        mask = sampler.synthetic_mask_ & (y_res == 0)
        return X_res[mask].reset_index(drop=True)

    pd.testing.assert_frame_equal(new_zeros(second, X2, y2), new_zeros(first, X1, y1))


class history_produce(fake_produce):
    """Test double of a residual-aware generator: records the history it got."""

    uses_history = True

    def __init__(self):
        super().__init__()
        self.histories = []

    def __call__(self, target, first, n, history=()):
        self.histories.append((first, list(history)))
        return super().__call__(target, first, n)


def test_a_history_producer_gets_the_earlier_rows_made_first():
    stream = BatchStream(KEY, CLASSES)
    produce = history_produce()
    # asking for a batch of the third chunk makes the first two before it
    batch, hit = stream.get(1, 5, produce, 2)
    assert not hit and batch.rows == [[1, 5]]
    assert [first for first, _ in produce.histories] == [0, 2, 4]
    assert produce.histories[0][1] == []
    assert produce.histories[2][1] == [[1, 0], [1, 1], [1, 2], [1, 3]]
    # a plain producer is never asked for earlier chunks
    plain = fake_produce()
    BatchStream(KEY, CLASSES).get(1, 5, plain, 2)
    assert plain.calls == 1


class partial_produce(fake_produce):
    """``fake_produce`` that may make part of a chunk; records each call."""

    partial_chunks = True

    def __init__(self):
        super().__init__()
        self.parts = []

    def __call__(self, target, first, n, layout=None):
        self.parts.append((first, n, layout))
        return super().__call__(target, first, n)


def test_a_later_part_of_a_chunk_is_made_only_as_far_as_wanted():
    stream = BatchStream(KEY, CLASSES)
    produce = partial_produce()
    assert stream.get(1, 0, produce, 4, want=4)[0].rows == [[1, 0]]
    assert produce.parts == [(0, 4, 4)]  # the first chunk whole
    batch, hit = stream.get(1, 4, produce, 4, want=2)  # two more batches wanted
    assert not hit and batch.index == 4
    assert produce.parts[-1] == (4, 2, 4)  # laid out as the whole chunk of 4
    assert stream.get(1, 5, produce, 4, want=1)[1]  # made with the part above
    stream.get(1, 6, produce, 4, want=5)  # never past the chunk's end
    assert produce.parts[-1] == (6, 2, 4)
    # a part stops before a batch already held
    other = BatchStream(KEY, CLASSES)
    first = partial_produce()
    other.get(1, 2, first, 4, want=1)
    other.get(1, 0, first, 4, want=4)
    assert first.parts == [(2, 1, 4), (0, 2, 4)]
    # a producer that cannot make parts gets whole chunks, as without want
    plain = fake_produce()
    whole = BatchStream(KEY, CLASSES)
    whole.get(1, 4, plain, 4, want=1)
    assert all(whole.batches.get((1, 4, i)) for i in range(4, 8))


def test_fits_that_differ_in_qc_thresholds_ask_the_task_manager_once(monkeypatch):
    """Test double (``test::uniform``): the plan is remembered like the stream."""
    calls = []
    real = planning.plan_with_manager

    def counted(*args, **kwargs):
        calls.append(kwargs.get("seed"))
        return real(*args, **kwargs)

    monkeypatch.setattr(planning, "plan_with_manager", counted)
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.integers(0, 9, 30),
                      "b": np.round(rng.normal(size=30), 1),
                      "c": rng.choice(["x", "y"], 30)})
    y = np.array([0] * 22 + [1] * 8)
    params = dict(model="test::uniform", verbose=0, qc=("sanity",), batch_size=4,
                  on_shortfall="warn")
    clear_streams()
    first = TeamTrimSampler(cost_c=0.0, random_state=0, **params)
    X1, _ = first.fit_resample(X, y)
    second = TeamTrimSampler(cost_c=2.0, random_state=0, **params)
    X2, _ = second.fit_resample(X, y)
    assert len(calls) == 1 and second.plan_ == first.plan_
    pd.testing.assert_frame_equal(pd.DataFrame(X2), pd.DataFrame(X1))
    # another seed or other data is another plan
    TeamTrimSampler(random_state=1, **params).fit_resample(X, y)
    TeamTrimSampler(random_state=0, **params).fit_resample(X.iloc[1:], y[1:])
    assert len(calls) == 3
    # a fresh process (clear_streams) asks again and gets the same plan
    clear_streams()
    again = TeamTrimSampler(random_state=0, **params)
    again.fit_resample(X, y)
    assert len(calls) == 4 and again.plan_ == first.plan_
    # a user's plan is never stored
    stored = len(_PLANS)
    TeamTrimSampler(random_state=0, plan={"roles": [{"name": "All", "features": [
        "a", "b", "c"]}]}, **params).fit_resample(X, y)
    assert len(_PLANS) == stored and len(calls) == 4


def test_remember_plan_stores_nothing_on_failure():
    clear_streams()

    def fails():
        raise RuntimeError("no plan")

    with pytest.raises(RuntimeError, match="no plan"):
        remember_plan("k", fails)
    assert "k" not in _PLANS
    assert remember_plan("k", lambda: "plan") == "plan"
    assert remember_plan("k", fails) == "plan"  # stored: not built again
    assert remember_plan(None, lambda: "other") == "other" and None not in _PLANS
    clear_streams()


class _Backend:
    def __init__(self, dtype):
        self.dtype = dtype


def test_model_token_names_the_dtype_where_it_changes_the_rows():
    assert model_token("embedded", _Backend("float32")) == "embedded"
    assert model_token("embedded", _Backend(None)) == "embedded"
    assert model_token("embedded", _Backend("bfloat16")) == "embedded|bfloat16"
