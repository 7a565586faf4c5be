"""Diabetes under label noise: T² Fig. 3 and appendix Table 7.

Paper: §3.2 "Data noise" and appendix C/D. The outcome is binary
(``make_diabetes(task="binary", rounded=True)``, T²'s Fig. 5 precision:
``Outcome = 1`` iff the risk score is
positive); a share ``flip`` in {0.2, 0.3, 0.4} of the D_ori rows, drawn
uniformly regardless of class, gets the other label (symmetric flips,
appendix C). D_ori sizes 10, 20, ..., 100 (i.i.d. draws with
``random_state=seed``); test: 500 clean rows with ``random_state=seed +
10000`` (T² does not say whether the test labels are flipped; here they are
not, so AUC measures recovery of the true rule).

Generation follows appendix C: batches of 10 rows, as many rows as D_ori has
(``n_add = size``) and no refill after the QC (``--max-batches-factor 1
--extra-batches 0``), so the QC can only remove rows.

Writes ``benchmarks/results/table3_label_noise.{csv,md,png}``: the markdown
has Table 7's layout (flip × method: AUC, accuracy, F1, recall averaged over
sizes) and AUC per size; the plot is Fig. 3 (AUC vs size, one panel per flip).

Usage: ``python benchmarks/table3_label_noise.py [--model embedded] [--seeds 10]
[--sizes 10 20 ...] [--quick]``; ``--quick``: 1 seed, size 10 only, no CLLM
(``_harness.QUICK_METHODS``).
"""

from __future__ import annotations

import sys

import _harness as H

from skteam.datasets import DIABETES_DESCRIPTIONS, TARGET_DESCRIPTIONS, make_diabetes

NAME = "table3_label_noise"
FLIPS = (0.2, 0.3, 0.4)
SIZES = tuple(range(10, 101, 10))
QUICK_SIZES = (10,)


def cells(cfg, sizes, n_test=500):
    out = []
    for flip in FLIPS:
        for size in sizes:
            for seed in cfg.seeds:
                Xtr, ytr = make_diabetes(size, task="binary", label_flip=flip,
                                         rounded=True,
                                         random_state=seed)
                Xte, yte = make_diabetes(n_test, task="binary", rounded=True,
                                         random_state=seed + H.TEST_SEED_OFFSET)
                ctx = H.context(DIABETES_DESCRIPTIONS, Xtr,
                                "One row is a simulated adult patient",
                                TARGET_DESCRIPTIONS["Outcome"], classes=[0, 1])
                out.append(H.Cell("Diabetes", f"flip {flip}", size, seed, Xtr, ytr,
                                  Xte, yte, size, ctx))
    return out


def report(df, cfg):
    df = H.order_methods(df)
    settings = [f"flip {f}" for f in FLIPS if (df["setting"] == f"flip {f}").any()]
    parts = [H.header("Diabetes under label noise (T² Fig. 3 and Table 7)",
                      "§3.2 'Data noise', Fig. 3, appendix Table 7", cfg, df,
                      "and over the D_ori sizes " + ", ".join(
                          str(s) for s in sorted(df["size"].unique()))),
             "\n## AUC (%) per flip ratio\n", H.setting_table(df, settings),
             "\n## Table 7 layout: AUC, accuracy, F1 and recall (%)\n",
             H.metrics_by_setting(df, settings)]
    for s in settings:
        sub = df[df["setting"] == s]
        parts += [f"\n## {s}: AUC (%) by D_ori size\n", H.size_table(sub),
                  f"\n{s}: rows and cost\n", H.rows_summary(sub)]
    H.write_md(cfg, NAME, "\n".join(parts))
    H.plot_vs_size(df, "auc", settings, cfg.out / f"{NAME}.png",
                   f"Diabetes, label noise: AUC vs size of D_ori ({cfg.model}, "
                   f"{len(cfg.seeds)} seed(s))")


def main(argv=None):
    p = H.parser(__doc__, batch_size=H.PAPER_BATCH["Diabetes"], **H.NO_REFILL)
    args = p.parse_args(argv)
    cfg = H.config(args, argv, quick_seeds=1,
                     quick_methods=H.QUICK_METHODS)
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    df = H.run(NAME, cells(cfg, sizes), cfg)
    report(df, cfg)


if __name__ == "__main__":
    sys.exit(main())
