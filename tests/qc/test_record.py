"""The QC record: stage checks, the per-batch row, per-class totals (pure logic)."""

import numpy as np
import pandas as pd
import pytest

from skteam.qc.pipeline import BatchVerdict
from skteam.qc.record import (
    REPORT_COLUMNS,
    SAMPLER_REPORT_COLUMNS,
    STAGES,
    batch_record,
    check_stages,
    class_totals,
    default_estimator,
)


@pytest.mark.parametrize("stages", [(), ("cost",), ["sanity", "diversity"], STAGES])
def test_check_stages_accepts_subsets(stages):
    assert check_stages(stages) == tuple(stages)


@pytest.mark.parametrize("stages, match", [
    (("sanity", "magic"), r"qc=\('sanity', 'magic'\) is not a subset.*unknown "
                          r"stages \['magic'\]"),
    (("cost", "cost"), r"repeats \['cost'\]"),
])
def test_check_stages_names_the_problem(stages, match):
    with pytest.raises(ValueError, match=match):
        check_stages(stages, name="qc")


def test_batch_record_without_and_with_a_verdict():
    bare = batch_record(None, batch=3, n_generated=5, verdict="accepted (no QC)")
    assert bare["verdict"] == "accepted (no QC)" and np.isnan(bare["delta"])
    assert [bare[f"dropped_{s}"] for s in STAGES] == [0, 0, 0]
    v = BatchVerdict(np.array([True, False]), True, delta=0.5, tau=0.1,
                     verdict="accepted; cost accepted")
    v.dropped["cost"] = 1
    row = batch_record(v, batch=0, n_generated=2)
    assert (row["dropped_cost"], row["delta"], row["tau"]) == (1, 0.5, 0.1)
    assert row["verdict"] == "accepted; cost accepted"
    assert set(row) <= set(SAMPLER_REPORT_COLUMNS) | set(REPORT_COLUMNS)


def test_class_totals_sum_one_class_only():
    report = pd.DataFrame([
        {"class": 1, "n_generated": 9, "parse_failures": 1, "relabelled": 0,
         "dropped_sanity": 2, "dropped_curation": 0, "dropped_cost": 7,
         "dropped_diversity": 0, "kept": 0},
        {"class": 0, "n_generated": 10, "parse_failures": 0, "relabelled": 3,
         "dropped_sanity": 0, "dropped_curation": 0, "dropped_cost": 0,
         "dropped_diversity": 5, "kept": 2},
        {"class": 1, "n_generated": 10, "parse_failures": 0, "relabelled": 1,
         "dropped_sanity": 0, "dropped_curation": 0, "dropped_cost": 0,
         "dropped_diversity": 0, "kept": 9},
    ])
    t = class_totals(report, 1)
    assert (t["batches"], t["requested"], t["dropped_sanity"], t["kept"]) == (
        2, 20, 2, 9)
    empty = class_totals(report.iloc[:0], 1)
    assert empty["batches"] == 0 and empty["requested"] == 0


def test_default_estimator_is_a_fresh_scaled_logistic_regression():
    a, b = default_estimator(), default_estimator()
    assert a is not b
    assert [type(s).__name__ for _, s in a.steps] == ["StandardScaler",
                                                      "LogisticRegression"]
    assert a.get_params()["logisticregression__max_iter"] == 1000
