"""TravelBehavior under label noise: T² Table 3.

Paper: §3.2, Table 3 (D_ori = 60 rows; flip ratios 0 ("No Flip"), 0.3,
0.4). Data: ``make_travel_behavior(60, label_flip=flip, random_state=seed)``
(skteam's reconstruction of the Latent Decision Threshold model; see its
docstring: T² publishes neither features nor parameters). Test: 500 clean
rows with ``random_state=seed + 10000``.

Generation follows appendix C: batches of 20 rows, as many rows as D_ori has
(``n_add = 60``, 3 batches) and no refill after the QC
(``--max-batches-factor 1 --extra-batches 0``).

Writes ``benchmarks/results/table4_travel.{csv,md,png}`` (Table 3's layout:
method × flip ratio, AUC; then accuracy, F1, recall; bars per flip ratio).

Usage: ``python benchmarks/table4_travel.py [--model embedded] [--seeds 10]
[--rows 60] [--quick]``; ``--quick``: 1 seed, no CLLM, D_ori = 20 rows and 20 added
rows (one batch) so that a CPU run stays short.
"""

from __future__ import annotations

import sys

import _harness as H

from skteam.datasets import (
    TARGET_DESCRIPTIONS,
    TRAVEL_DESCRIPTIONS,
    make_travel_behavior,
)

NAME = "table4_travel"
FLIPS = (0.0, 0.3, 0.4)
SIZE, QUICK_SIZE = 60, 20


def label(flip):
    return "No Flip" if flip == 0 else f"flip {flip}"


def cells(cfg, size, rows, n_test=500):
    out = []
    for flip in FLIPS:
        for seed in cfg.seeds:
            Xtr, ytr = make_travel_behavior(size, label_flip=flip, random_state=seed)
            Xte, yte = make_travel_behavior(n_test,
                                            random_state=seed + H.TEST_SEED_OFFSET)
            ctx = H.context(TRAVEL_DESCRIPTIONS, Xtr,
                            "One row is a commuter offered a rewarded alternative "
                            "travel option by an app", TARGET_DESCRIPTIONS["Choice"],
                            classes=[0, 1])
            out.append(H.Cell("TravelBehavior", label(flip), size, seed, Xtr, ytr,
                              Xte, yte, rows, ctx))
    return out


def report(df, cfg):
    df = H.order_methods(df)
    settings = [label(f) for f in FLIPS if (df["setting"] == label(f)).any()]
    size = int(df["size"].iloc[0])
    parts = [H.header(f"TravelBehavior under label noise (T² Table 3), D_ori = "
                      f"{size}", "§3.2, Table 3", cfg, df),
             "\n## AUC (%) per flip ratio (Table 3)\n", H.setting_table(df, settings),
             "\n## AUC, accuracy, F1 and recall (%)\n",
             H.metrics_by_setting(df, settings),
             "\n## AUC (%) by downstream model (all flip ratios)\n",
             H.model_table(df), "\n## Rows and cost\n", H.rows_summary(df)]
    H.write_md(cfg, NAME, "\n".join(parts))
    H.plot_bars(df, "auc", settings, cfg.out / f"{NAME}.png",
                f"TravelBehavior, D_ori = {size}: AUC ({cfg.model}, "
                f"{len(cfg.seeds)} seed(s))")


def main(argv=None):
    p = H.parser(__doc__, batch_size=H.PAPER_BATCH["TravelBehavior"], **H.NO_REFILL)
    args = p.parse_args(argv)
    cfg = H.config(args, argv, quick_seeds=1,
                     quick_methods=H.QUICK_METHODS)
    size = (args.sizes or [QUICK_SIZE if args.quick else SIZE])[0]
    rows = args.rows or size
    df = H.run(NAME, cells(cfg, size, rows), cfg)
    report(df, cfg)


if __name__ == "__main__":
    sys.exit(main())
