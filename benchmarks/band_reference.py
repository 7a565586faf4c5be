"""Rows held to anchor bands, placed without a language model: a reference.

``anchor_band`` holds each numeric cell of a generated row within ``h``
standard deviations (of the column among the class's real rows) of a real
row of its class, its anchor; the model chooses the value inside the band.
This script asks what such rows are worth downstream when nothing chooses:
on the utility suite's training sets (``suite.py``'s tables, draws and
quotas), every added row copies an anchor's categorical cells and draws
each numeric cell uniformly in the anchor's band (integer columns rounded,
the column's observed range kept), anchors cycling through the class's real
rows in random order, as ``ExamplePool.anchors`` does. ``h = 0`` is random
over-sampling. Downstream LR and RF as in the suite; minority ROC AUC.

No model, seconds per table. Writes ``results/<name>.csv`` (one row per
table × seed × method × model, the suite's columns) and ``<name>.md`` (mean
minority AUC per table and over the tables).

Usage: ``python benchmarks/band_reference.py [--widths 0 0.25 0.5 1]
[--seeds 10] [--tables ...] [--name band_reference]``
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import _harness as H  # noqa: E402  (same folder)
import suite as S  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def banded_rows(X: pd.DataFrame, y: np.ndarray, quota: dict, cats, width: float,
                rng: np.random.Generator):
    """The real rows followed by ``quota``'s added rows, each in its anchor's band."""
    Xn = H._as_model_input(X, cats)
    nums = [c for c in X.columns if c not in cats]
    parts, labels = [X], [y]
    for c, target in quota.items():
        idx = np.flatnonzero(y == c)
        need = target - len(idx)
        if need <= 0 or not len(idx):
            continue
        reps = -(-need // len(idx))
        anchors = np.concatenate([rng.permutation(idx) for _ in range(reps)])[:need]
        rows = X.iloc[anchors].reset_index(drop=True).copy()
        for col in nums:
            values = Xn[col].to_numpy()
            spread = np.nanstd(values[idx], ddof=1) if len(idx) > 1 else 0.0
            noise = rng.uniform(-width, width, need) * np.nan_to_num(spread)
            new = values[anchors] + noise
            new = np.clip(new, np.nanmin(values), np.nanmax(values))
            if np.all(np.mod(values[~np.isnan(values)], 1) == 0):
                new = np.round(new)
            rows[col] = new
        parts.append(rows)
        labels.append(np.full(need, c, dtype=y.dtype))
    return pd.concat(parts, ignore_index=True), np.concatenate(labels)


def markdown(table: pd.DataFrame) -> str:
    """A markdown table of ``table`` (columns: (model, method)), 2 decimals."""
    head = ["table"] + [f"{m}: {method}" for m, method in table.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in table.iterrows():
        lines.append("| " + " | ".join([str(name)] + [f"{v:.2f}" for v in row]) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--widths", nargs="+", type=float, default=[0.0, 0.25, 0.5, 1.0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--size", type=int, default=8)
    p.add_argument("--tables", nargs="+", default=None)
    p.add_argument("--name", default="band_reference")
    args = p.parse_args(argv)
    suite_args = ["--sizes", str(args.size), "--seeds", str(args.seeds),
                  "--methods", "D_ori", "--models", "LR", "RF"]
    if args.tables:
        suite_args += ["--tables", *args.tables]
    _, _, cells, _, _, _ = S.build(suite_args)
    out = []
    warnings.filterwarnings("ignore", category=UserWarning)
    for cell in cells:
        y = np.asarray(cell.y_train)
        cats = H.categorical_columns(cell.X_train)
        quota = H.balanced_quota(cell.y_train, cell.n_add)
        rng = np.random.default_rng(cell.seed)
        runs = {"D_ori": (cell.X_train, y)}
        for h in args.widths:
            runs[f"band {h:g}, no model"] = banded_rows(cell.X_train, y, quota, cats,
                                                       h, rng)
        for method, (Xr, yr) in runs.items():
            for row in H.evaluate(Xr, yr, cell.X_test, cell.y_test, sorted(set(y)),
                                  cell.seed, cats, models=("LR", "RF")):
                out.append(dict(dataset=cell.dataset, setting=cell.setting,
                                seed=cell.seed, method=method, **row))
    df = S.add_minority_metrics(pd.DataFrame(out))
    RESULTS.mkdir(exist_ok=True)
    df.to_csv(RESULTS / f"{args.name}.csv", index=False)
    table = df.pivot_table(index="dataset", columns=["model", "method"],
                           values="auc_min", aggfunc="mean", sort=False) * 100
    table.loc["**mean**"] = table.mean()
    text = (f"# {args.name}\n\n`python benchmarks/band_reference.py "
            f"{' '.join(argv if argv is not None else sys.argv[1:])}`; seeds "
            f"0..{args.seeds - 1}, size {args.size} + {5 * args.size}; minority "
            "ROC AUC (%), mean over seeds.\n\n" + markdown(table) + "\n")
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
