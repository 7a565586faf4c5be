"""Data quality of the generated rows: T² Table 5 (detection, α-precision, β-recall).

Paper: §3.3.2 and appendix C. Same cells as ``table5_drug_compas.py``
(Drug-A, Drug-B, COMPAS; same seeds, sizes, test splits and generation
settings), so with the shared LLM cache (``--cache-dir``, default
``results/tmp/llm_cache``) running this after table 5 costs no generation.

For every method that adds rows (SMOTE, CLLM, skteam without and with QC),
the *synthetic rows only* (features plus the label as a text column) are
compared with the held-out real test rows of the cell (100 for Drug, 500 for
COMPAS; rows the generator never saw):

- ``detection``: ``skteam.metrics.detection_score`` (5-fold cross-validated
  ROC AUC of a gradient-boosting real-vs-synthetic classifier; 0.5 =
  indistinguishable; lower is better);
- ``alpha_precision``, ``beta_recall``: ``skteam.metrics.
  alpha_precision_beta_recall`` (Alaa et al. 2022, synthcity's embedding-free
  variant; higher is better).

A cell whose method added fewer than 2 rows has no score (NaN, "/" in the
table). No downstream model is fitted.

Writes ``benchmarks/results/table7_quality.{csv,md,png}``: the markdown has
Table 5's layout (dataset × method, the three metrics in %, averaged over
sizes and seeds); the plot shows the three metrics per dataset and method.

Usage: ``python benchmarks/table7_quality.py [--model embedded] [--seeds 10]
[--datasets ...] [--quick]``; ``--quick``: 1 seed, size 10 (as table 5).
"""

from __future__ import annotations

import sys

import _harness as H
import numpy as np
import pandas as pd
from table5_drug_compas import DATASETS, build

from skteam.metrics import alpha_precision_beta_recall, detection_score

NAME = "table7_quality"
METRICS = (("Detection", "detection"), ("α-Precision", "alpha_precision"),
           ("β-Recall", "beta_recall"))


def with_label(X, y):
    out = pd.DataFrame(X).reset_index(drop=True).copy()
    out["label"] = pd.Series(np.asarray(y)).astype(str).to_numpy()
    return out


def quality(cell, method, res):
    X_syn, y_syn = res.synthetic
    if len(X_syn) < 2:
        return {"n_synthetic": len(X_syn), "detection": np.nan,
                "alpha_precision": np.nan, "beta_recall": np.nan}
    real = with_label(cell.X_test, cell.y_test)
    syn = with_label(X_syn, y_syn)
    for c in real.columns:  # generated values may come back as another dtype
        if pd.api.types.is_numeric_dtype(real[c]):
            syn[c] = pd.to_numeric(syn[c], errors="coerce").astype(float)
            real[c] = real[c].astype(float)
        else:
            real[c], syn[c] = real[c].astype(str), syn[c].astype(str)
    a, b = alpha_precision_beta_recall(real, syn)
    return {"n_synthetic": len(X_syn),
            "detection": detection_score(real, syn, random_state=cell.seed),
            "alpha_precision": a, "beta_recall": b}


def by_dataset(df, datasets):
    df = df[df["dataset"].isin(datasets)].copy()
    df["dataset"] = pd.Categorical(df["dataset"], list(datasets), ordered=True)
    return df.sort_values(["dataset", "method"], kind="stable")


def report(df, cfg, skipped):
    df = H.order_methods(df)
    datasets = [d for d in DATASETS if (df["dataset"] == d).any()]
    parts = [H.header("Data quality of the generated rows (T² Table 5)",
                      "§3.3.2, Table 5", cfg, df).replace(
        "Values: mean ± std over seeds of the per-seed average over the four "
        "downstream models (LR, SVM, MLP, RF), in %.",
        "Values: mean ± std over seeds of the per-seed average over the D_ori "
        "sizes " + ", ".join(str(s) for s in sorted(df["size"].unique()))
        + ", in %. Synthetic rows only, against the held-out real test rows."),
        "\n## Table 5 layout (detection: lower is better; α-precision, "
        "β-recall: higher is better)\n",
        H.md_table(by_dataset(df, datasets), ["dataset", "method"],
                   list(METRICS), H.metric_cell()),
        "\n## Rows and cost\n", H.rows_summary(df)]
    if skipped:
        parts.append("\nSizes skipped: " + "; ".join(
            f"{d}: {s}" for d, s in skipped.items()) + ".")
    H.write_md(cfg, NAME, "\n".join(parts))
    long = []
    for label, col in METRICS:
        t = df[["dataset", "method", "seed", col]].rename(columns={col: "value"})
        t["group"] = t["dataset"] + "\n" + label
        long.append(t)
    long = pd.concat(long)
    groups = [f"{d}\n{label}" for d in datasets for label, _ in METRICS]
    H.plot_bars(long, "value", groups, cfg.out / f"{NAME}.png",
                f"Data quality ({cfg.model}, {len(cfg.seeds)} seed(s))",
                group_col="group", ylabel="%")


def main(argv=None):
    args, cfg, cells, skipped = build(argv, __doc__)
    if args.methods is None:  # D_ori adds no rows: nothing to score
        cfg.methods = [m for m in cfg.methods if m != "D_ori"]
    df = H.run(NAME, cells, cfg, extra_eval=quality)
    report(df, cfg, skipped)


if __name__ == "__main__":
    sys.exit(main())
