"""provenance_: one record per generated row (real bundled model end to end).

The fit runs the embedded model once for the module; the pure-logic parts
(label sources, copies, output order) are checked on a hand-made loop record.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from skteam import Schema, TeamTrimSampler
from skteam.provenance import PROVENANCE_COLUMNS, provenance_frame
from skteam.report import plot_provenance, provenance_summary, save_report

RNG = np.random.default_rng(0)
X = pd.DataFrame({"age": RNG.integers(18, 80, 40),
                  "sex": RNG.choice(["F", "M"], 40),
                  "bmi": RNG.normal(27, 4, 40).round(1)})
Y = np.array([0] * 32 + [1] * 8)


@pytest.fixture(scope="module")
def fitted(embedded_backend):
    s = TeamTrimSampler(verbose=0, random_state=0, batch_size=5, max_batches=2,
                        qc=("sanity", "cost"), cost_null_draws=50,
                        sampling_strategy={1: 14})
    with warnings.catch_warnings():  # the QC may reject batches: rows are filled
        warnings.simplefilter("ignore", UserWarning)
        X_res, y_res = s.fit_resample(X, Y)
    return s, X_res, y_res


@pytest.mark.model
def test_provenance_describes_every_generated_row(fitted):
    s, X_res, _ = fitted
    prov = s.provenance_
    assert list(prov.columns) == PROVENANCE_COLUMNS
    assert len(prov) == s.synthetic_mask_.sum() == 6
    assert prov["row"].tolist() == list(np.flatnonzero(s.synthetic_mask_))
    assert all(len(e) and all(0 <= j < len(X) for j in e) for e in prov["examples"])
    # the role workers of class 1 were shown real rows of class 1
    assert all(Y[j] == 1 for e in prov["examples"] for j in e)
    generated = X_res.iloc[prov["row"]]
    real = set(map(tuple, X.astype(object).itertuples(index=False)))
    exact = [tuple(r) in real for r in generated.astype(object).itertuples(index=False)]
    assert prov["copy"].tolist() == exact
    assert prov["sign_anchor"].isna().all()  # age and bmi are never negative
    assert ((prov["nearest_distance"] == 0) >= prov["copy"]).all()
    counts = prov["status"].value_counts().to_dict()
    report = s.qc_report_
    assert counts.get("accepted", 0) == report["kept"].sum()
    assert counts.get("filled", 0) == report["filled"].sum()
    # rows the cost duel saw carry their cost and window flag
    seen = prov["cost"].notna()
    assert seen.all() and prov["cost"].between(0, 1).all()
    assert set(prov["label_source"]) == {"target"}  # embedded: labeling="target"


@pytest.mark.model
def test_the_report_has_a_provenance_page(fitted, tmp_path):
    s, X_res, y_res = fitted
    paths = save_report(s, X_res, y_res, tmp_path)
    assert paths["provenance"].stat().st_size > 0
    assert 'href="provenance.html"' in paths["index"].read_text()
    page = paths["provenance_page"].read_text()
    assert 'src="provenance.png"' in page and "copy rate" in page
    summary = provenance_summary(s)
    assert summary["rows"].sum() == len(s.provenance_)
    assert (summary["accepted"] + summary["filled"] == summary["rows"]).all()
    assert plot_provenance(s, X_res).axes


def test_provenance_frame_labels_sources_and_copies():
    schema = Schema.infer(X, Y)
    info = {"batch": 0, "target_class": 1, "examples": [32], "sign_anchor": None,
            "cost": 0.2,
            "in_window": True, "delta": 0.1, "tau": 0.0, "entropy_gain": np.nan}
    copy = X.iloc[3].tolist()
    new = [30, "F", 99.0]
    rows = {1: [copy, new], 0: [new]}
    prov = {1: [{**info, "status": "accepted"}, {**info, "status": "filled"}],
            0: [{**info, "status": "accepted"}]}
    out = provenance_frame(prov, rows, X, schema, labeling="worker")
    assert out["row"].tolist() == [40, 41, 42]
    assert out["label_source"].tolist() == ["label worker", "label worker", "other"]
    assert out["copy"].tolist() == [True, False, False]
    assert out.loc[0, "nearest_distance"] == 0 and out.loc[0, "nearest_train"] == 3
    assert (out.loc[1:, "nearest_distance"] > 0).all()
    target = provenance_frame(prov, rows, X, schema, labeling="target")
    assert set(target["label_source"]) == {"target"}
    empty = provenance_frame({1: []}, {1: []}, X, schema, labeling="target")
    assert list(empty.columns) == PROVENANCE_COLUMNS and len(empty) == 0


def test_each_row_names_the_real_row_whose_signs_it_took():
    # grammar-only test double: the model is not the subject, the record is
    rng = np.random.default_rng(1)
    Xs = pd.DataFrame({"z": rng.normal(0, 1, 40).round(2),
                       "w": rng.normal(0, 1, 40).round(2),
                       "age": rng.integers(18, 80, 40)})
    s = TeamTrimSampler(model="test::uniform", qc=(), random_state=0, verbose=0,
                        sampling_strategy={1: 20})
    X_res, _ = s.fit_resample(Xs, Y)
    prov = s.provenance_
    anchors = prov["sign_anchor"].astype(int).to_numpy()
    assert (Y[anchors] == prov["target_class"].to_numpy()).all()
    generated = X_res.iloc[prov["row"]].reset_index(drop=True)
    for col in ("z", "w"):
        assert ((generated[col] < 0).to_numpy()
                == (Xs[col].to_numpy()[anchors] < 0)).all()
