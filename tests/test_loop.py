"""The generate→trim loop on a fake batch stream and a fake QC (pure logic).

``FakeStream`` and ``FakeQC`` are test doubles: the stream hands out batches
of known rows without a model, the QC keeps or rejects rows by a rule the
test sets, so quota bookkeeping, fill, early stop and the shortfall
messages are checked exactly.
"""

import numpy as np
import pandas as pd
import pytest

from skteam.budget import batch_budget, out_of_reach
from skteam.cache import RawBatch
from skteam.exceptions import ShortfallError
from skteam.loop import TrimLoop
from skteam.qc.pipeline import BatchVerdict
from skteam.qc.record import SAMPLER_REPORT_COLUMNS

X = pd.DataFrame({"a": np.arange(12, dtype=float), "b": np.arange(12) % 3})
Y = np.array([0] * 9 + [1] * 3)


class FakeStream:
    """Test double of BatchStream: batch i of a class holds rows (i, j)."""

    def __init__(self, n_rows=4, labels=None, fail_at=None, failures=1):
        self.n_rows, self.labels, self.fail_at = n_rows, labels, fail_at
        self.failures = failures
        self.calls, self.wants = [], []

    def get(self, target, index, produce, chunk, want=None):
        self.calls.append((target, index, chunk))
        self.wants.append(want)
        if self.fail_at == (target, index):
            raise RuntimeError("model crashed")
        rows = [[float(index), j % 3] for j in range(self.n_rows)]
        labels = (self.labels(target, index) if self.labels
                  else [target] * self.n_rows)
        return (RawBatch(target=target, index=index, rows=rows, labels=labels,
                         failures=self.failures, usage={"output_tokens": 7}),
                index % 2 == 1)


class FakeQC:
    """Test double of TrimQC: ``keep(batch_frame) -> mask``; sanity passes all."""

    def __init__(self, keep, cost=True):
        self.keep = keep
        self.cost_duel_ = object() if cost else None
        self.sizes = []

    def trim_batch(self, X_b, y_b, X_current, y_current, target):
        self.sizes.append(len(X_current))
        keep = np.asarray(self.keep(X_b), dtype=bool)
        v = BatchVerdict(keep, bool(keep.any()), sane=np.ones(len(keep), bool))
        v.dropped["cost"] = int((~keep).sum())
        v.verdict = "accepted" if keep.any() else "rejected"
        return v


def _loop(quotas, trim=None, on_shortfall="fill", max_batches=None, batch_size=4):
    budget = batch_budget(quotas, batch_size, max_batches)
    return TrimLoop(quotas, X, Y, trim=trim, batch_size=batch_size,
                    max_batches=budget, chunks={c: 2 for c in quotas},
                    on_shortfall=on_shortfall)


def test_without_qc_the_quotas_are_filled_exactly_in_turns():
    stream = FakeStream()
    loop = _loop({1: 6, 0: 3}).run(stream, produce=None)
    assert {c: len(r) for c, r in loop.accepted.items()} == {1: 6, 0: 3}
    # classes take turns; each asks for its next index with its chunk size
    assert stream.calls == [(1, 0, 2), (0, 0, 2), (1, 1, 2)]
    report = loop.report()
    assert list(report.columns) == SAMPLER_REPORT_COLUMNS
    assert report["kept"].tolist() == [4, 3, 2]
    assert report["dropped_quota"].tolist() == [0, 1, 2]
    assert report["verdict"].eq("accepted (no QC)").all()
    assert report["cached"].tolist() == [False, False, True]
    assert loop.cached == 1 and report["parse_failures"].sum() == 3
    loop.finish(report)  # nothing short: neither raises nor warns


def test_kept_rows_grow_the_data_the_cost_duel_sees():
    trim = FakeQC(lambda b: b["b"].to_numpy() == 0)  # rows 0 and 3 of each batch
    loop = _loop({1: 3}, trim=trim).run(FakeStream(), None)
    assert trim.sizes == [12, 14]  # rows (0,0),(0,3) joined D before batch 1
    assert len(loop.accepted[1]) == 3
    no_cost = FakeQC(lambda b: b["b"].to_numpy() == 0, cost=False)
    _loop({1: 3}, trim=no_cost).run(FakeStream(), None)
    assert no_cost.sizes == [12, 12]


def test_a_row_labelled_for_another_class_fills_that_class():
    stream = FakeStream(labels=lambda t, i: [t, t, 0, 0])
    loop = _loop({1: 4, 0: 2}).run(stream, None)
    report = loop.report()
    assert report.loc[0, "relabelled"] == 2
    assert len(loop.accepted[0]) == 2 and len(loop.accepted[1]) == 4


def test_fill_takes_rejected_sane_rows_in_generation_order():
    loop = _loop({1: 5}, trim=FakeQC(lambda b: np.zeros(len(b))), max_batches=2)
    loop.run(FakeStream(), None)
    report = loop.report()
    assert report["kept"].sum() == 0
    assert report["filled"].tolist() == [4, 1]
    assert [r[0] for r in loop.accepted[1]] == [0.0] * 4 + [1.0]
    assert loop.filled_share() == 1.0
    with pytest.warns(UserWarning, match=r"5 of the 5 rows of class 1 \(100% of the "
                                         r"generated rows returned\) are generated "
                                         r"rows that passed the sanity"):
        loop.finish(report)


class ScoredQC(FakeQC):
    """Test double: rejects every row; batch i gets the duel margin ``margins[i]``."""

    def __init__(self, margins):
        super().__init__(lambda b: np.zeros(len(b)))
        self.margins, self.calls = margins, 0

    def trim_batch(self, X_b, y_b, X_current, y_current, target):
        v = super().trim_batch(X_b, y_b, X_current, y_current, target)
        v.delta, v.tau = self.margins[self.calls], 0.0
        self.calls += 1
        return v


def test_fill_takes_the_best_scoring_rejected_rows_first():
    # batch 2 won the cost duel (rejected later), batch 1 lost it narrowly,
    # batch 0 lost it clearly: fills come from batch 2, then batch 1
    loop = _loop({1: 6}, trim=ScoredQC([-2.0, -0.5, 0.3]), max_batches=3,
                 batch_size=10)  # no early stop within 3 batches
    loop.run(FakeStream(), None)
    assert [r[0] for r in loop.accepted[1]] == [2.0] * 4 + [1.0] * 2
    assert loop.report()["filled"].tolist() == [0, 2, 4]
    assert [p["batch"] for p in loop.provenance[1]] == [2] * 4 + [1] * 2


def test_raise_gives_the_main_cause_and_the_counts():
    loop = _loop({1: 3}, trim=FakeQC(lambda b: np.zeros(len(b))),
                 on_shortfall="raise", max_batches=2).run(FakeStream(), None)
    with pytest.raises(ShortfallError, match=r"class 1 got 0 of 3 rows after 2 "
                       r"batches \(most rows lost to: the cost stage; 10 rows "
                       r"generated for it: 2 not parsed, 8 dropped by the cost "
                       r"stage\)") as info:
        loop.finish(loop.report())
    assert info.value.got == {1: 0} and len(info.value.qc_report) == 2


def test_a_budget_too_small_for_the_quota_is_named_as_the_cause():
    # every row is kept (as a fill), yet two batches of 4 rows cannot give 10
    loop = _loop({1: 10}, trim=FakeQC(lambda b: np.zeros(len(b))),
                 max_batches=2).run(FakeStream(failures=0), None)
    with pytest.raises(ShortfallError, match=r"class 1 got 8 of 10 rows after 2 "
                       r"batches \(no row was lost: its batches generated only 8 "
                       r"rows\)\. Raise max_batches"):
        loop.finish(loop.report())


def test_warn_returns_fewer_rows_and_never_stops_early():
    loop = _loop({1: 40}, trim=FakeQC(lambda b: np.zeros(len(b))),
                 on_shortfall="warn", max_batches=12).run(FakeStream(), None)
    assert len(loop.records) == 12 and not loop.stopped
    with pytest.warns(UserWarning, match="could not fill every class quota"):
        loop.finish(loop.report())


def test_a_hopeless_class_stops_before_its_budget():
    loop = _loop({1: 40}, trim=FakeQC(lambda b: np.zeros(len(b))),
                 on_shortfall="raise", max_batches=30).run(FakeStream(), None)
    assert loop.stopped == {1: len(loop.records)} and 15 <= len(loop.records) < 30
    with pytest.raises(ShortfallError, match="its generation stopped after"):
        loop.finish(loop.report())


def test_a_stream_error_keeps_the_batches_read_and_says_where():
    loop = _loop({1: 12}, max_batches=5)
    with pytest.raises(RuntimeError, match="model crashed") as info:
        loop.run(FakeStream(fail_at=(1, 2)), None)
    assert len(loop.records) == 2
    assert any("batch 2 of class 1" in note for note in info.value.__notes__)


@pytest.mark.parametrize("quotas, size, max_batches, expected", [
    ({0: 10, 1: 25}, 10, None, {0: 5, 1: 11}),
    ({0: 10}, 4, 3, {0: 3}),
])
def test_batch_budget(quotas, size, max_batches, expected):
    assert batch_budget(quotas, size, max_batches) == expected


def test_out_of_reach_needs_a_failed_batch():
    assert not out_of_reach(0, 0, 10, 10, 100)
    assert not out_of_reach(3, 3, 1, 10, 100)
    assert out_of_reach(0, 10, 1, 10, 100)


def test_a_class_asks_only_for_the_batches_it_still_needs():
    # test doubles: 2 of a batch's 4 rows pass; chunks of 2 batches
    stream = FakeStream()
    trim = FakeQC(lambda b: b["b"].to_numpy() == 0)
    loop = _loop({1: 6}, trim=trim).run(stream, None)
    assert len(loop.accepted[1]) == 6
    # 6 rows missing: a whole chunk; 4: two batches; 2: one batch is enough
    assert stream.wants == [2, 2, 1]
