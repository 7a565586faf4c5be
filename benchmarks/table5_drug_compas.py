"""Drug-A / Drug-B and COMPAS downstream utility: T² Figs. 4 and 10, Table 4.

Paper: §3.3.1 and appendix C. Drug (UCI, CLLM preprocessing, label: nicotine
use in the last decade) is split into T²'s two subgroups (``load_drug(
subgroup="A"|"B")``: Age 25-34 / F / White, 264 rows; Age 18-24 / M / White,
363 rows); per seed 100 rows are held out as a stratified test set and D_ori
of each size 10, 25, 50, 100, 150, 200, 250 is a stratified draw from the
rest (Drug-A has only 164 rows left, so its sizes above 164 are skipped and
listed in the markdown). COMPAS (``load_compas()``, 13 features): 500
stratified test rows per seed, D_ori of size 10, 25, 50, 100, 150, 200 with
balanced labels (appendix C: "with balanced labels").

Generation follows appendix C: batches of 10 rows (Drug) or 20 (COMPAS;
``--compas-batch-size``), as many rows as D_ori has (``n_add = size``) and no
refill after the QC. The raw LLM batches are cached on disk
(``--cache-dir``, default ``results/tmp/llm_cache``) so that
``table7_quality.py`` on the same cells reuses them.

Writes ``benchmarks/results/table5_drug_compas.{csv,md,png}`` (AUC vs size per
dataset, Figs. 4a/4b and the COMPAS panel) and
``table5_drug_compas_compas_models.png`` (Fig. 10: COMPAS AUC vs size per
downstream model); the markdown has Table 4's layout for COMPAS (accuracy,
AUC, F1, recall averaged over sizes) and AUC by size for each dataset.

Usage: ``python benchmarks/table5_drug_compas.py [--model embedded] [--seeds 10]
[--datasets Drug-A Drug-B COMPAS] [--quick]``; ``--quick``: 1 seed, size 10, no CLLM
only.
"""

from __future__ import annotations

import sys

import _harness as H

NAME = "table5_drug_compas"
DATASETS = ("Drug-A", "Drug-B", "COMPAS")
SIZES_DRUG = (10, 25, 50, 100, 150, 200, 250)
SIZES_COMPAS = (10, 25, 50, 100, 150, 200)
QUICK_SIZES = (10,)
CACHE = str(H.RESULTS / "tmp" / "llm_cache")


def add_arguments(p):
    p.add_argument("--datasets", nargs="+", default=list(DATASETS),
                   choices=list(DATASETS))
    p.add_argument("--compas-batch-size", type=int,
                   default=H.PAPER_BATCH["COMPAS"])
    return p


def build(argv, doc, quick_sizes=QUICK_SIZES):
    """Parse the command line and build the cells (shared with table 7)."""
    p = add_arguments(H.parser(doc, batch_size=H.PAPER_BATCH["Drug"],
                               cache_dir=CACHE, **H.NO_REFILL))
    args = p.parse_args(argv)
    cfg = H.config(args, argv, quick_seeds=1,
                     quick_methods=H.QUICK_METHODS)
    sizes_drug = args.sizes or (quick_sizes if args.quick else SIZES_DRUG)
    sizes_compas = args.sizes or (quick_sizes if args.quick else SIZES_COMPAS)
    cells, skipped = H.drug_compas_cells(cfg, sizes_drug, sizes_compas,
                                         args.datasets)
    for c in cells:
        if c.dataset == "COMPAS":
            c.context = {**c.context, "batch_size": args.compas_batch_size}
    return args, cfg, cells, skipped


def report(df, cfg, skipped):
    df = H.order_methods(df)
    datasets = [d for d in DATASETS if (df["dataset"] == d).any()]
    parts = [H.header("Drug-A, Drug-B and COMPAS: downstream utility (T² Figs. 4 "
                      "and 10, Table 4)", "§3.3.1, Fig. 4, Table 4, appendix "
                      "Fig. 10", cfg, df, "(and over sizes where so marked)")]
    if skipped:
        parts.append("\nSizes skipped (fewer rows left after the test split): "
                     + "; ".join(f"{d}: {s}" for d, s in skipped.items()) + ".")
    if "COMPAS" in datasets:
        sub = df[df["dataset"] == "COMPAS"]
        parts += ["\n## COMPAS, Table 4 layout: metrics (%) averaged over sizes "
                  + ", ".join(str(s) for s in sorted(sub["size"].unique())) + "\n",
                  H.md_table(sub, ["method"], [("Accuracy", "accuracy"),
                                               ("AUC", "auc"), ("F1", "f1"),
                                               ("Recall", "recall")],
                             H.metric_cell())]
    for d in datasets:
        sub = df[df["dataset"] == d]
        parts += [f"\n## {d}: AUC (%) by D_ori size\n", H.size_table(sub),
                  f"\n{d}: AUC (%) by downstream model (all sizes)\n",
                  H.model_table(sub), f"\n{d}: rows and cost\n", H.rows_summary(sub)]
    H.write_md(cfg, NAME, "\n".join(parts))
    H.plot_vs_size(df, "auc", datasets, cfg.out / f"{NAME}.png",
                   f"AUC vs size of D_ori ({cfg.model}, {len(cfg.seeds)} seed(s))",
                   panel_col="dataset")
    if "COMPAS" in datasets:
        H.plot_vs_size(df[df["dataset"] == "COMPAS"], "auc", list(H.MODELS),
                       cfg.out / f"{NAME}_compas_models.png",
                       f"COMPAS: AUC per downstream model ({cfg.model})",
                       panel_col="model")


def main(argv=None):
    args, cfg, cells, skipped = build(argv, __doc__)
    df = H.run(NAME, cells, cfg)
    report(df, cfg, skipped)


if __name__ == "__main__":
    sys.exit(main())
