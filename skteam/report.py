"""Plots and an HTML page that show what a fitted sampler generated and kept.

The functions take a fitted :class:`~skteam.TeamTrimSampler` and, for the
plots that compare rows, the ``X_res, y_res`` its ``fit_resample`` returned
(the real rows are those where ``sampler.synthetic_mask_`` is false):

- :func:`qc_summary`: per class, the rows that reached each QC stage;
- :func:`plot_qc_acceptance`: per batch and class, the rows each stage
  dropped, and the per-class funnel of rows surviving each stage;
- :func:`plot_marginals`: real vs generated marginal distributions per class
  (histograms for numeric features, bars for categorical ones);
- :func:`plot_projection`: a 2-D PCA projection of the real and generated
  rows (categorical features one-hot encoded, every column standardised);
- :func:`save_report`: all of the above as PNG files, ``qc_report.csv``,
  ``plan.json`` and an ``index.html`` that shows them.

The figures are :class:`matplotlib.figure.Figure` objects made without
:mod:`matplotlib.pyplot`, so no global figure state is kept (nothing to
close) and no display is needed; files are drawn with the Agg renderer.
matplotlib is an optional dependency (``pip install skteam[report]``).

Examples
--------
>>> from sklearn.datasets import make_classification
>>> from skteam import TeamTrimSampler
>>> from skteam.report import save_report
>>> import skteam.testing  # registers model="test::uniform", a test double
>>> X, y = make_classification(n_samples=60, n_features=4, weights=[0.8],
...                            random_state=0)
>>> sampler = TeamTrimSampler(model="test::uniform", qc=("sanity",), verbose=0,
...                           random_state=0)
>>> X_res, y_res = sampler.fit_resample(X, y)  # doctest: +SKIP
>>> paths = save_report(sampler, X_res, y_res, "report")  # doctest: +SKIP
>>> sorted(paths)  # doctest: +SKIP
['acceptance', 'index', 'marginals', 'plan', 'projection', 'qc_report']
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .qc.record import class_totals
from .schema import _python
from .utils._validation import check_fitted_sampler

__all__ = [
    "qc_summary",
    "plot_qc_acceptance",
    "plot_marginals",
    "plot_projection",
    "provenance_summary",
    "plot_provenance",
    "save_report",
]

# What each part of a batch's bar stands for, bottom to top, and its colour.
_STACK = [
    ("kept", "kept", "#2ca02c"),
    ("dropped_quota", "class needed no rows", "#c7c7c7"),
    ("dropped_diversity", "dropped: diversity", "#9467bd"),
    ("dropped_cost", "dropped: cost duel", "#ff7f0e"),
    ("dropped_curation", "dropped: curation", "#8c564b"),
    ("dropped_sanity", "dropped: sanity", "#d62728"),
    ("parse_failures", "unparsed", "#7f7f7f"),
]
_REAL_COLOR = "#1f77b4"
_SYNTH_COLOR = "#ff7f0e"


# -- inputs -------------------------------------------------------------------------


def _figure(**kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "skteam.report draws with matplotlib, which is not installed; "
            "install it with pip install 'skteam[report]' (or pip install "
            "matplotlib)."
        ) from None
    return Figure(layout="constrained", **kwargs)


def _resampled_frame(sampler, X_res, y_res):
    """``X_res`` as a DataFrame named like ``schema_``, labels and the mask."""
    check_fitted_sampler(sampler, "schema_", "synthetic_mask_", what="A report")
    names = list(sampler.schema_.names)
    if isinstance(X_res, pd.DataFrame):
        frame = X_res.reset_index(drop=True)
        frame = frame.set_axis(names, axis=1) if frame.shape[1] == len(names) else frame
    else:
        frame = pd.DataFrame(list(X_res) if isinstance(X_res, list) else
                             np.asarray(X_res), columns=names)
    labels = np.asarray(y_res)
    mask = np.asarray(sampler.synthetic_mask_, dtype=bool)
    if not (len(frame) == len(labels) == len(mask)) or frame.shape[1] != len(names):
        raise ValueError(
            f"X_res ({frame.shape[0]} rows, {frame.shape[1]} columns) and y_res "
            f"({len(labels)} labels) are not the output of this sampler's last "
            f"fit_resample ({len(mask)} rows, {len(names)} features); pass the "
            "X_res, y_res it returned."
        )
    return frame, labels, mask


def _class_colors(classes):
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    return {c: palette[i % len(palette)] for i, c in enumerate(classes)}


# -- QC --------------------------------------------------------------------------------


def qc_summary(sampler) -> pd.DataFrame:
    """Per class, the generated rows that reached and passed each QC stage.

    Parameters
    ----------
    sampler : TeamTrimSampler
        A fitted sampler (``qc_report_`` is read).

    Returns
    -------
    summary : pandas.DataFrame
        One row per class requested by the batches: ``batches``,
        ``batches_accepted`` (batches that kept at least one row),
        ``requested`` (rows asked of the model, unparsed ones included),
        ``parsed``, ``after_sanity``, ``after_curation``, ``after_cost``,
        ``after_diversity``,
        ``kept``, and ``acceptance`` (``kept / requested``).
    """
    check_fitted_sampler(sampler, "qc_report_", what="A report")
    report = sampler.qc_report_
    cols = ["batches", "batches_accepted", "requested", "parsed", "after_sanity",
            "after_curation", "after_cost", "after_diversity", "kept", "acceptance"]
    rows = []
    for c in pd.unique(report["class"]):
        t = class_totals(report, c)
        after = {"after_sanity": t["n_generated"] - t["dropped_sanity"]}
        after["after_curation"] = after["after_sanity"] - t["dropped_curation"]
        after["after_cost"] = after["after_curation"] - t["dropped_cost"]
        after["after_diversity"] = after["after_cost"] - t["dropped_diversity"]
        kept, requested = int(t["kept"]), int(t["requested"])
        rows.append({
            "class": _python(c), "batches": int(t["batches"]),
            "batches_accepted": int(t["batches_accepted"]),
            "requested": requested, "parsed": int(t["n_generated"]),
            **{k: int(v) for k, v in after.items()}, "kept": kept,
            "acceptance": kept / requested if requested else float("nan"),
        })
    return pd.DataFrame(rows, columns=["class", *cols]).set_index("class")


def plot_qc_acceptance(sampler):
    """Rows kept and dropped by each QC stage, per batch and per class.

    One row of panels per class: on the left a stacked bar per batch (in
    the order the batches were read) splitting its rows into kept, dropped
    by the sanity, cost-duel and diversity stages, dropped because their
    label's class needed no more rows, and unparsed; on the right the
    class's funnel, the share of requested rows that survive each stage.

    Parameters
    ----------
    sampler : TeamTrimSampler
        Fitted; its ``qc_report_`` is plotted.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    check_fitted_sampler(sampler, "qc_report_", what="A report")
    report = sampler.qc_report_
    classes = list(dict.fromkeys(report["class"])) if len(report) else []
    n = max(1, len(classes))
    fig = _figure(figsize=(11, 2.8 * n + 0.6))
    axes = fig.subplots(n, 2, squeeze=False, width_ratios=[3, 1])
    if not classes:
        for ax in axes[0]:
            ax.axis("off")
        axes[0, 0].text(0.5, 0.5, "No batches were generated (no class needed "
                        "rows).", ha="center", va="center")
        return fig
    summary = qc_summary(sampler)
    for i, c in enumerate(classes):
        part = report[report["class"] == c]
        ax = axes[i, 0]
        x = np.arange(len(part))
        bottom = np.zeros(len(part))
        for col, name, color in _STACK:
            values = part[col].to_numpy(dtype=float)
            ax.bar(x, values, bottom=bottom, color=color, label=name, width=0.85)
            bottom += values
        ax.set_xticks(x if len(x) <= 30 else x[:: int(np.ceil(len(x) / 30))])
        ax.set_ylabel("rows")
        ax.set_title(f"class {_python(c)!r}: {int(part['kept'].sum())} rows kept of "
                     f"{int(bottom.sum())} requested in {len(part)} batches",
                     fontsize=10)
        if i == n - 1:
            ax.set_xlabel("batch (in the order read)")
        s = summary.loc[_python(c)]
        stages = ["parsed", "after_sanity", "after_curation", "after_cost",
                  "after_diversity", "kept"]
        share = [s[k] / s["requested"] if s["requested"] else 0.0 for k in stages]
        ax2 = axes[i, 1]
        ax2.barh(np.arange(len(stages))[::-1], share, color="#4c72b0")
        ax2.set_yticks(np.arange(len(stages))[::-1],
                       ["parsed", "sanity", "curation", "cost", "diversity",
                        "kept (quota)"])
        ax2.set_xlim(0, 1.05)
        ax2.set_xlabel("share of requested rows")
        for k, v in enumerate(share):
            ax2.text(min(v + 0.02, 0.8), len(stages) - 1 - k, f"{v:.0%}",
                     va="center", fontsize=8)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside upper center", ncols=len(_STACK),
               fontsize=8, frameon=False)
    return fig


# -- rows ------------------------------------------------------------------------------


def plot_marginals(sampler, X_res, y_res, *, columns=None, max_columns=8,
                   max_categories=12, bins=20):
    """Real vs generated marginal distribution of each feature, per class.

    One row of panels per class that received generated rows, one column
    per feature: overlaid density histograms for numeric features and
    side-by-side bars of category shares for categorical ones, the real
    rows of that class against the generated rows of that class.

    Parameters
    ----------
    sampler : TeamTrimSampler
        A fitted sampler (``schema_`` and ``synthetic_mask_`` are read).
    X_res, y_res : array-like
        The output of the sampler's last ``fit_resample``.
    columns : list of str, default=None
        Features to show; default the first ``max_columns`` features.
    max_columns : int, default=8
        At most this many features when ``columns`` is None.
    max_categories : int, default=12
        Categorical features show their most frequent categories (among the
        real rows of the class), at most this many.
    bins : int, default=20
        Histogram bins of numeric features.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    frame, labels, mask = _resampled_frame(sampler, X_res, y_res)
    schema = sampler.schema_
    specs = {s.name: s for s in schema.features}
    if columns is None:
        columns = list(schema.names)[:max_columns]
    else:
        columns = [str(c) for c in columns]
        unknown = [c for c in columns if c not in specs]
        if unknown:
            raise ValueError(f"columns {unknown} are not features of the sampler; "
                             f"its features are {list(schema.names)}.")
    classes = [c for c in dict.fromkeys(labels[mask])]
    if not classes:
        fig = _figure(figsize=(6, 2))
        ax = fig.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, "No generated rows to compare.", ha="center", va="center")
        return fig
    n_rows, n_cols = len(classes), max(1, len(columns))
    fig = _figure(figsize=(2.6 * n_cols + 0.5, 2.3 * n_rows + 0.6))
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for i, c in enumerate(classes):
        real = frame[(~mask) & (labels == c)]
        synth = frame[mask & (labels == c)]
        for j, col in enumerate(columns):
            ax = axes[i, j]
            if specs[col].kind == "categorical":
                _bars(ax, real[col], synth[col], max_categories)
            else:
                _hist(ax, real[col], synth[col], bins)
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.set_title(col, fontsize=9)
            if j == 0:
                ax.set_ylabel(f"class {_python(c)!r}\n({len(real)} real, "
                              f"{len(synth)} new)", fontsize=8)
    handles = [_patch(_REAL_COLOR, "real"), _patch(_SYNTH_COLOR, "generated")]
    fig.legend(handles=handles, loc="outside upper center", ncols=2, fontsize=8,
               frameon=False)
    if len(columns) < len(schema.names):
        fig.suptitle(f"first {len(columns)} of {len(schema.names)} features",
                     fontsize=8)
    return fig


def _patch(color, label):
    from matplotlib.patches import Patch

    return Patch(color=color, alpha=0.6, label=label)


def _hist(ax, real, synth, bins):
    real = pd.to_numeric(real, errors="coerce").dropna().to_numpy(dtype=float)
    synth = pd.to_numeric(synth, errors="coerce").dropna().to_numpy(dtype=float)
    both = np.concatenate([real, synth])
    if not len(both):
        return
    lo, hi = float(both.min()), float(both.max())
    edges = np.linspace(lo, hi, bins + 1) if hi > lo else np.array([lo - 0.5,
                                                                    lo + 0.5])
    for values, color in ((real, _REAL_COLOR), (synth, _SYNTH_COLOR)):
        if len(values):
            ax.hist(values, bins=edges, density=True, alpha=0.5, color=color)
    ax.set_yticks([])


def _bars(ax, real, synth, max_categories):
    real, synth = real.astype(str), synth.astype(str)
    order = list(real.value_counts().index) + [
        v for v in synth.value_counts().index if v not in set(real)]
    shown = order[:max_categories]
    x = np.arange(len(shown))
    for values, color, shift in ((real, _REAL_COLOR, -0.2), (synth, _SYNTH_COLOR, 0.2)):
        share = values.value_counts(normalize=True).reindex(shown, fill_value=0.0)
        ax.bar(x + shift, share.to_numpy(), width=0.4, color=color, alpha=0.7)
    ax.set_xticks(x, [s if len(s) <= 10 else s[:9] + "…" for s in shown],
                  rotation=45 if len(shown) > 3 else 0, ha="right"
                  if len(shown) > 3 else "center")
    ax.set_ylim(0, 1)


def plot_projection(sampler, X_res, y_res):
    """2-D PCA projection of the real and the generated rows.

    Categorical features are one-hot encoded, then every column is
    standardised; the scaling and the PCA are fitted on the real rows only,
    so the axes are those of the real data and generated rows are placed in
    them. Colours are classes; dots are real rows, crosses generated ones.

    Parameters
    ----------
    sampler : TeamTrimSampler
        Fitted; its ``schema_`` and ``synthetic_mask_`` tell the columns and
        which rows are generated.
    X_res, y_res : array-like
        What the sampler's last ``fit_resample`` returned.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from sklearn.base import clone
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, labels, mask = _resampled_frame(sampler, X_res, y_res)
    schema = sampler.schema_
    cats = [s.name for s in schema.features if s.kind == "categorical"]
    nums = [s.name for s in schema.features if s.kind != "categorical"]
    data = pd.DataFrame(index=frame.index)
    for col in nums:
        data[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    for col in cats:
        data[col] = frame[col].astype(str).astype(object)
    encode = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cats),
         ("num", "passthrough", nums)],
    )
    real = data[~mask]
    n_encoded = clone(encode).fit_transform(real).shape[1]
    n_components = max(1, min(2, n_encoded, len(real)))
    model = make_pipeline(encode, StandardScaler(),
                          PCA(n_components=n_components, random_state=0))
    points_real = model.fit_transform(real)
    points_synth = model.transform(data[mask]) if mask.any() else np.empty(
        (0, n_components))
    if n_components == 1:
        points_real = np.column_stack([points_real, np.zeros(len(points_real))])
        points_synth = np.column_stack([points_synth, np.zeros(len(points_synth))])
    pca = model[-1]
    colors = _class_colors(list(schema.classes))
    fig = _figure(figsize=(7, 5.5))
    ax = fig.subplots()
    for c in schema.classes:
        color = colors[c]
        in_real = labels[~mask] == c
        in_synth = labels[mask] == c
        if in_real.any():
            ax.scatter(*points_real[in_real].T, s=18, color=color, alpha=0.6,
                       marker="o", label=f"{_python(c)!r} real ({in_real.sum()})")
        if in_synth.any():
            ax.scatter(*points_synth[in_synth].T, s=28, color=color, alpha=0.9,
                       marker="x", label=f"{_python(c)!r} generated ({in_synth.sum()})")
    ratio = pca.explained_variance_ratio_
    ax.set_xlabel(f"PC1 ({ratio[0]:.0%} of the real rows' variance)")
    ax.set_ylabel(f"PC2 ({ratio[1]:.0%})" if n_components > 1 else "(one component)")
    ax.set_title("PCA of the real rows (one-hot, standardised); generated rows "
                 "projected", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return fig


# -- bundle ----------------------------------------------------------------------------


# -- provenance ----------------------------------------------------------------------


def provenance_summary(sampler) -> pd.DataFrame:
    """Per class, how the generated rows were obtained and how close they are.

    Parameters
    ----------
    sampler : TeamTrimSampler
        Fitted; its ``provenance_`` is summarised.

    Returns
    -------
    summary : pandas.DataFrame
        One row per class with generated rows: ``rows``, ``accepted`` (kept
        by the QC), ``filled`` (QC-rejected rows used to complete a quota,
        ``on_shortfall="fill"``), ``copies`` (equal to a training row on
        every column), ``copy_rate`` and ``median_distance`` (Gower distance
        to the closest training row).
    """
    check_fitted_sampler(sampler, "provenance_", what="A report")
    prov = sampler.provenance_
    rows = []
    for c in pd.unique(prov["label"]):
        part = prov[prov["label"] == c]
        rows.append({"class": _python(c), "rows": len(part),
                     "accepted": int((part["status"] == "accepted").sum()),
                     "filled": int((part["status"] == "filled").sum()),
                     "copies": int(part["copy"].sum()),
                     "copy_rate": float(part["copy"].mean()),
                     "median_distance": float(part["nearest_distance"].median())})
    cols = ["rows", "accepted", "filled", "copies", "copy_rate", "median_distance"]
    return pd.DataFrame(rows, columns=["class", *cols]).set_index("class")


def plot_provenance(sampler, X_res):
    """Distance to the closest training row: generated rows beside real ones.

    The generated rows' distances are ``provenance_["nearest_distance"]``;
    the reference is each real row's distance to its closest *other* real
    row (Gower, as :func:`skteam.metrics.gower_distances`). Generated rows
    piled at 0 are copies; a distribution well left of the reference means
    the rows stay closer to real records than real records are to each
    other.

    Parameters
    ----------
    sampler : TeamTrimSampler
        Fitted; ``provenance_``, ``synthetic_mask_`` and ``schema_`` are read.
    X_res : array-like
        What the sampler's last ``fit_resample`` returned.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from .metrics import gower_distances

    check_fitted_sampler(sampler, "provenance_", "synthetic_mask_",
                         what="A report")
    frame = pd.DataFrame(np.asarray(X_res, dtype=object) if not isinstance(
        X_res, pd.DataFrame) else X_res).reset_index(drop=True)
    real = frame[~sampler.synthetic_mask_].reset_index(drop=True)
    real.columns = sampler.schema_.names
    cats = {f.name for f in sampler.schema_.features if f.kind == "categorical"}
    d = gower_distances(real, real, categorical=cats)
    np.fill_diagonal(d, np.inf)
    ref = d.min(axis=1) if len(real) > 1 else np.zeros(0)
    gen = sampler.provenance_["nearest_distance"].to_numpy(dtype=float)
    fig = _figure(figsize=(6.4, 3.6))
    ax = fig.subplots()
    top = max([0.05, *gen, *ref[np.isfinite(ref)]])
    bins = np.linspace(0, top, 21)
    ax.hist(ref, bins=bins, alpha=0.6, density=True, label="real → closest other real")
    ax.hist(gen, bins=bins, alpha=0.6, density=True,
            label=f"generated → closest training ({len(gen)} rows, "
                  f"{int(sampler.provenance_['copy'].sum())} copies)")
    ax.set(xlabel="Gower distance to the closest training row", ylabel="density")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save_report(sampler, X_res=None, y_res=None, out_dir="skteam-report", *,
                dpi=100):
    """Write the QC report, the plan, the plots and an HTML page to a directory.

    Parameters
    ----------
    sampler : TeamTrimSampler
        A fitted sampler. After a failed fit (a ``ShortfallError``) its
        ``qc_report_`` and ``plan_`` are still written.
    X_res, y_res : array-like, default=None
        The output of the sampler's last ``fit_resample``; without them the
        row plots (marginals, projection) are left out.
    out_dir : path-like, default="skteam-report"
        Created if missing; files of an earlier report there are replaced.
    dpi : int, default=100
        Resolution of the PNG files.

    Returns
    -------
    paths : dict of str to pathlib.Path
        ``"qc_report"`` (``qc_report.csv``), ``"plan"`` (``plan.json``, when
        the fit got that far), ``"acceptance"`` (``qc_acceptance.png``),
        ``"marginals"`` (``marginals.png``) and ``"projection"``
        (``projection.png``) when rows are given, ``"provenance_table"``
        (``provenance.csv``), ``"provenance_page"`` (``provenance.html``:
        copy rate, accepted and filled rows per class, and
        ``"provenance"``, ``provenance.png``, the distance histogram, when
        rows are given) after a complete fit, and ``"index"``
        (``index.html``, which shows everything).
    """
    check_fitted_sampler(sampler, "qc_report_", what="A report")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir={str(out)!r} exists and is not a directory.")
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    paths["qc_report"] = out / "qc_report.csv"
    sampler.qc_report_.to_csv(paths["qc_report"], index=False)
    if hasattr(sampler, "plan_"):
        paths["plan"] = out / "plan.json"
        paths["plan"].write_text(json.dumps(sampler.plan_, indent=2,
                                            ensure_ascii=False) + "\n",
                                 encoding="utf-8")
    figures = {"acceptance": ("qc_acceptance.png", lambda: plot_qc_acceptance(
        sampler))}
    if X_res is not None and y_res is not None:
        figures["marginals"] = ("marginals.png",
                                lambda: plot_marginals(sampler, X_res, y_res))
        figures["projection"] = ("projection.png",
                                 lambda: plot_projection(sampler, X_res, y_res))
        if len(getattr(sampler, "provenance_", ())):
            figures["provenance"] = ("provenance.png",
                                     lambda: plot_provenance(sampler, X_res))
    for key, (name, make) in figures.items():
        fig = make()
        paths[key] = out / name
        fig.savefig(paths[key], dpi=dpi)
    if hasattr(sampler, "provenance_"):
        paths["provenance_table"] = out / "provenance.csv"
        sampler.provenance_.to_csv(paths["provenance_table"], index=False)
        paths["provenance_page"] = out / "provenance.html"
        paths["provenance_page"].write_text(_provenance_html(sampler, paths),
                                            encoding="utf-8")
    paths["index"] = out / "index.html"
    paths["index"].write_text(_html(sampler, paths), encoding="utf-8")
    return paths


def _html(sampler, paths) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>skteam report</title>",
        "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;"
        "padding:0 1em}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "img{max-width:100%}code{background:#f4f4f4}</style></head><body>",
        "<h1>skteam report</h1>",
    ]
    params = sampler.get_params(deep=False)
    shown = {k: params[k] for k in ("model", "sampling_strategy", "qc", "batch_size",
                                    "cost_c", "diversity_threshold", "random_state")
             if k in params}
    parts.append("<p>" + ", ".join(f"<code>{esc(k)}={esc(repr(v))}</code>"
                                   for k, v in shown.items()) + "</p>")
    if hasattr(sampler, "generation_stats_"):
        stats = sampler.generation_stats_
        parts.append("<h2>Generation</h2>")
        parts.append(pd.DataFrame([stats]).to_html(index=False, border=0))
    if hasattr(sampler, "plan_"):
        plan = sampler.plan_
        parts.append("<h2>Plan</h2><ul>")
        for role in plan.get("roles", []):
            parts.append(f"<li><b>{esc(str(role['name']))}</b>: "
                         f"{esc(', '.join(map(str, role['features'])))}</li>")
        parts.append("</ul>")
        edges = "; ".join(f"{a} → {b}" for a, b in plan.get("edges", []))
        parts.append(f"<p>Order: {esc(edges or 'none (roles are independent)')}. "
                     f"Source: {esc(str(plan.get('source', '')))}.</p>")
        for repair in plan.get("repairs", []):
            parts.append(f"<p><i>repair: {esc(str(repair))}</i></p>")
        if "plan" in paths:
            parts.append(f'<p>As JSON (edit it and pass it back with <code>--plan'
                         f'</code>): <a href="{paths["plan"].name}">'
                         f'{paths["plan"].name}</a></p>')
    parts.append("<h2>Quality control</h2>")
    summary = qc_summary(sampler)
    if len(summary):
        parts.append(summary.reset_index().to_html(
            index=False, border=0, float_format=lambda v: f"{v:.3f}"))
    captions = {
        "acceptance": "Rows kept and dropped by each QC stage, per batch and class",
        "marginals": "Real vs generated marginals per class",
        "projection": "PCA projection of real and generated rows",
    }
    for key, caption in captions.items():
        if key in paths:
            parts.append(f"<h3>{esc(caption)}</h3>")
            parts.append(f'<img src="{paths[key].name}" alt="{esc(caption)}">')
    if "provenance_page" in paths:
        parts.append('<h2>Provenance</h2><p>Where each generated row came from '
                     'and how close it is to a real record: <a href="'
                     f'{paths["provenance_page"].name}">'
                     f'{paths["provenance_page"].name}</a></p>')
    parts.append(f'<h3>Batches (<a href="{paths["qc_report"].name}">'
                 f'{paths["qc_report"].name}</a>)</h3>')
    parts.append(sampler.qc_report_.to_html(index=False, border=0,
                                            float_format=lambda v: f"{v:.4g}"))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _provenance_html(sampler, paths) -> str:
    prov = sampler.provenance_
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>skteam provenance</title></head><body>",
             "<h1>Where did each generated row come from?</h1>",
             f"<p>{len(prov)} generated rows; copy rate "
             f"{float(prov['copy'].mean()) if len(prov) else 0.0:.1%} (rows equal "
             "to a training row on every column). Every row: "
             f'<a href="{paths["provenance_table"].name}">'
             f'{paths["provenance_table"].name}</a>.</p>',
             provenance_summary(sampler).reset_index().to_html(
                 index=False, border=0, float_format=lambda v: f"{v:.3f}")]
    if "provenance" in paths:
        parts.append(f'<img src="{paths["provenance"].name}" '
                     'alt="distance to the closest training row">')
    parts.append('<p><a href="index.html">Back to the report</a></p></body></html>')
    return "\n".join(parts) + "\n"
