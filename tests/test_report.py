"""skteam.report: QC summary, figures and the saved bundle.

One small fit with the grammar-only test double (``model="test::uniform"``)
feeds the tests; the edge cases use hand-made fitted attributes, since the
plots read only ``schema_``, ``synthetic_mask_`` and ``qc_report_``.
"""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from skteam import Schema, TeamTrimSampler
from skteam.report import (
    plot_marginals,
    plot_projection,
    plot_qc_acceptance,
    qc_summary,
    save_report,
)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(3)
    n = 30
    X = pd.DataFrame({
        "age": rng.integers(18, 70, n),
        "bmi": np.round(rng.normal(27, 4, n), 1),
        "sex": pd.Categorical(rng.choice(["F", "M"], n)),
        "smoker": rng.choice(["yes", "no"], n).astype(object),
    })
    y = pd.Series(np.where(np.arange(n) < 8, "sick", "well"), name="status")
    sampler = TeamTrimSampler(model="test::uniform", qc=("sanity",), verbose=0,
                              batch_size=5, sampling_strategy={"sick": 13},
                              random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    return sampler, X_res, y_res


def test_qc_summary_matches_report(fitted):
    sampler, _, _ = fitted
    summary = qc_summary(sampler)
    report = sampler.qc_report_
    assert list(summary.index) == ["sick"]
    row = summary.loc["sick"]
    assert row["batches"] == len(report)
    assert row["kept"] == report["kept"].sum() == 5
    assert row["parsed"] == report["n_generated"].sum()
    assert row["requested"] >= row["parsed"] >= row["after_sanity"] >= row["kept"]
    assert row["after_cost"] == row["after_diversity"] == row["after_sanity"]
    assert row["acceptance"] == pytest.approx(row["kept"] / row["requested"])


def test_figures(fitted):
    sampler, X_res, y_res = fitted
    fig = plot_qc_acceptance(sampler)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    fig = plot_marginals(sampler, X_res, y_res)
    assert len(fig.axes) == 4  # one class with new rows x four features
    assert [ax.get_title() for ax in fig.axes] == ["age", "bmi", "sex", "smoker"]
    fig = plot_marginals(sampler, X_res, y_res, columns=["sex"])
    assert len(fig.axes) == 1
    fig = plot_projection(sampler, X_res, y_res)
    (ax,) = fig.axes
    assert ax.get_xlabel().startswith("PC1")
    n_points = sum(len(c.get_offsets()) for c in ax.collections)
    assert n_points == len(X_res)


def test_numpy_output_is_accepted(fitted):
    sampler, X_res, y_res = fitted
    fig = plot_projection(sampler, X_res.to_numpy(), np.asarray(y_res))
    assert len(fig.axes) == 1


def test_save_report(fitted, tmp_path):
    sampler, X_res, y_res = fitted
    paths = save_report(sampler, X_res, y_res, tmp_path / "rep")
    provenance = {"provenance_table", "provenance_page"} | (
        {"provenance"} if len(sampler.provenance_) else set())
    assert set(paths) == {"qc_report", "plan", "acceptance", "marginals",
                          "projection", "index"} | provenance
    for p in paths.values():
        assert p.is_file() and p.stat().st_size > 0
    for key in ["acceptance", "marginals", "projection"]:
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    qc = pd.read_csv(paths["qc_report"])
    assert list(qc.columns) == list(sampler.qc_report_.columns)
    assert json.loads(paths["plan"].read_text()) == sampler.plan_
    page = paths["index"].read_text()
    for key in ["acceptance", "marginals", "projection"]:
        assert f'src="{paths[key].name}"' in page
    # without rows: the QC part only
    paths = save_report(sampler, out_dir=tmp_path / "qc-only")
    assert "marginals" not in paths and paths["acceptance"].is_file()


def test_errors(fitted, tmp_path):
    sampler, X_res, y_res = fitted
    with pytest.raises(ValueError, match="fit_resample"):
        plot_qc_acceptance(TeamTrimSampler())
    with pytest.raises(ValueError, match="not the output"):
        plot_marginals(sampler, X_res.iloc[:5], y_res[:5])
    with pytest.raises(ValueError, match="not features"):
        plot_marginals(sampler, X_res, y_res, columns=["height"])
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="not a directory"):
        save_report(sampler, X_res, y_res, tmp_path / "file")


def fake_sampler(X, y, n_real):
    """Fitted attributes by hand: the last rows of X count as generated."""
    mask = np.arange(len(X)) >= n_real
    report = pd.DataFrame([{
        "batch": 0, "class": y[-1], "n_generated": int(mask.sum()),
        "parse_failures": 0, "relabelled": 0, "dropped_sanity": 0,
        "dropped_cost": 0, "dropped_diversity": 0, "dropped_quota": 0,
        "kept": int(mask.sum()), "verdict": "accepted (no QC)"}])
    return SimpleNamespace(schema_=Schema.infer(X[~mask], y[:n_real]),
                           synthetic_mask_=mask, qc_report_=report)


def test_one_feature_and_no_generated_rows():
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 2.5, 3.5]})
    y = np.array([0, 0, 0, 1, 1, 1])
    s = fake_sampler(X, y, n_real=4)
    fig = plot_projection(s, X, y)  # one component only
    assert fig.axes[0].get_ylabel() == "(one component)"
    assert len(plot_marginals(s, X, y).axes) == 1
    s = fake_sampler(X, y, n_real=6)  # nothing generated
    fig = plot_marginals(s, X, y)
    assert not fig.axes[0].axison
    s.qc_report_ = s.qc_report_.iloc[:0]
    assert len(qc_summary(s)) == 0
    assert len(plot_qc_acceptance(s).axes) == 2


def test_categorical_only_and_many_categories():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"city": [f"c{i % 20}" for i in range(40)],
                      "flag": rng.choice([True, False], 40)})
    y = np.array([0] * 30 + [1] * 10)
    s = fake_sampler(X, y, n_real=34)
    fig = plot_marginals(s, X, y, max_categories=5)
    assert len(fig.axes[0].get_xticks()) == 5
    fig = plot_projection(s, X, y)
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections) == 40
