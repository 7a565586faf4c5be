"""Diabetes imbalance and incompleteness: T² Tables 1 and 2 (and Table 6).

Paper: §3.2 "Data imbalance" (Table 1: D_ori = 10 rows at LR:MR:HR = 7:2:1)
and "Data incompleteness" (Table 2: D_ori = 10 rows at 8:2:0, test at
7:2:1); with ``--ablation`` also appendix D's Table 6 (AUC after QC step 1
and step 2). The downstream metric is the one-vs-rest AUC of each risk
group, averaged over seeds and the four downstream models.

Data: ``make_diabetes(10, class_ratio=(7, 2, 1) or (8, 2, 0), rounded=True)``
(T²'s Fig. 5 precision) with ``random_state=seed``; test: 500 rows at 7:2:1
with ``random_state=seed + 10000``. Every method adds ``--rows`` rows (default
100, i.e. 10 batches of 10), split over the classes present in D_ori by
water-filling (smallest class first; ``_harness.balanced_quota``). In the
incompleteness setting HR is absent from D_ori; skteam's label worker only
writes classes seen in ``y``, so no method can add HR rows and every HR AUC is
"/" (T² reports HR AUCs for the LLM methods there; skteam cannot reproduce
that column).

Writes ``benchmarks/results/table1_imbalance.{csv,md,png}``.

Usage: ``python benchmarks/table1_imbalance.py [--model embedded] [--seeds 10]
[--rows 100] [--settings imbalance incompleteness] [--ablation] [--quick]``;
``--quick``: 2 seeds, 20 rows.
"""

from __future__ import annotations

import sys

import _harness as H
import pandas as pd

from skteam.datasets import (
    DIABETES_DESCRIPTIONS,
    RISK_LEVELS,
    TARGET_DESCRIPTIONS,
    make_diabetes,
)

NAME = "table1_imbalance"
SETTINGS = {"imbalance": (7, 2, 1), "incompleteness": (8, 2, 0)}
CONTEXT = {
    "feature_descriptions": DIABETES_DESCRIPTIONS,
    "dataset_description": ("One row is a simulated adult patient; the label is the "
                            + TARGET_DESCRIPTIONS["risk"] + "."),
    "classes": list(RISK_LEVELS),
}


def cells(cfg, rows, size=10, n_test=500, settings=tuple(SETTINGS)):
    out = []
    for setting in settings:
        ratio = SETTINGS[setting]
        for seed in cfg.seeds:
            Xtr, ytr = make_diabetes(size, class_ratio=ratio, rounded=True,
                                     random_state=seed)
            Xte, yte = make_diabetes(n_test, class_ratio=(7, 2, 1), rounded=True,
                                     random_state=seed + H.TEST_SEED_OFFSET)
            out.append(H.Cell("Diabetes", setting, size, seed, Xtr, ytr, Xte, yte,
                              rows, CONTEXT))
    return out


def report(df, cfg):
    df = H.order_methods(df)
    cls = list(RISK_LEVELS)
    parts = [H.header("Diabetes: imbalance (T² Table 1) and incompleteness "
                      "(Table 2)", "§3.2, Tables 1, 2 (and 6 with --ablation)",
                      cfg, df)]
    auc_cols = [(c, f"auc_{c}") for c in cls]
    more = [("macro AUC", "auc"), ("accuracy", "accuracy"), ("F1 (macro)", "f1"),
            ("recall (macro)", "recall")] + [(f"recall {c}", f"recall_{c}")
                                             for c in cls]
    for setting, table in (("imbalance", "Table 1"), ("incompleteness", "Table 2")):
        sub = df[df["setting"] == setting]
        if not len(sub):
            continue
        parts += [f"\n## {setting.capitalize()} ({table}): AUC (%) per risk group\n",
                  H.md_table(sub, ["method"], auc_cols, H.metric_cell()),
                  "\nOther metrics (%):\n",
                  H.md_table(sub, ["method"], more, H.metric_cell()),
                  "\nHR AUC (%) by downstream model:\n",
                  H.md_table(sub, ["method"], [(m, m) for m in H.MODELS],
                             lambda s, m: H.metric_cell("auc_HR")(
                                 s[s["model"] == m], None)),
                  "\nRows and cost:\n", H.rows_summary(sub)]
    if (df["setting"] == "incompleteness").any():
        parts.append("\nIncompleteness: HR is absent from D_ori, so no model scores "
                     "HR (AUC \"/\", recall 0) and the macro AUC averages LR and MR.")
    H.write_md(cfg, NAME, "\n".join(parts))
    long = []
    for c in cls:
        t = df[["setting", "method", "seed", "model", f"auc_{c}"]].rename(
            columns={f"auc_{c}": "value"})
        t["group"] = t["setting"].str[:6] + ". " + c
        long.append(t)
    long = pd.concat(long)
    groups = [f"{s[:6]}. {c}" for s in SETTINGS for c in cls
              if (df["setting"] == s).any()]
    H.plot_bars(long, "value", groups, cfg.out / f"{NAME}.png",
                f"Diabetes, D_ori = 10: one-vs-rest AUC ({cfg.model}, "
                f"{len(cfg.seeds)} seeds)", group_col="group")


def main(argv=None):
    p = H.parser(__doc__)
    p.add_argument("--settings", nargs="+", choices=list(SETTINGS),
                   default=list(SETTINGS), help="which of the two settings to run")
    args = p.parse_args(argv)
    cfg = H.config(args, argv)
    rows = args.rows or (20 if args.quick else 100)
    df = H.run(NAME, cells(cfg, rows, settings=args.settings), cfg)
    report(df, cfg)


if __name__ == "__main__":
    sys.exit(main())
