"""Where do the generated minority rows sit, column by column?

For suite tables (``suite.py``'s registry and training-set draws, one size),
fits ``TeamTrimSampler`` with default parameters on the suite's quota (with
``--no-qc``: ``qc=()``) and ``on_shortfall="warn"``, so that only rows the QC
kept are returned (no filled rows), and compares the generated rows of the
minority class with the real rows of the table, per column:

- numeric columns: the generated mean's distance from the held-out minority
  mean in units of the column's standard deviation (``shift_sd``), the share
  of the way from the minority mean to the other classes' mean that it went
  (``toward_other``; only where the two means are at least 0.2 SD apart), the
  ratio of the generated to the held-out minority standard deviation
  (``sd_ratio``) and the share of generated values that equal a value of the
  column in the training rows of the class (``copied``);
- categorical columns: the total variation distance between the generated and
  the held-out minority distributions (``tv``).

The same figures for the real training rows of the minority class are written
beside them (``source="train"``): with 8 real rows, they are the noise level a
generator that copied the training rows exactly would show. Per cell it also
writes the share of generated rows identical to a training row and the mean
minority probability that a logistic regression fitted on the training rows
gives the generated rows, the training rows and the held-out minority rows.

Usage: ``python benchmarks/fidelity.py --tables Drug Diabetes --seeds 2
[--size 8] [--no-qc] [--model embedded] [--out results/fidelity.csv]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).parent))
import _harness as H  # noqa: E402  (same folder)
import _suite_tables as T  # noqa: E402
import suite as S  # noqa: E402

RESULTS = Path(__file__).parent / "results"
#: Means of the minority and the other classes closer than this (in SD) make
#: ``toward_other`` meaningless; it is left empty there.
MIN_SEPARATION_SD = 0.2


def column_figures(rows, col, real_min, real_other, train_class, numeric):
    """The figures of one column of ``rows`` (see the module docstring)."""
    values = rows[col].dropna()
    if values.empty:
        return {}
    if not numeric:
        p = values.astype(str).value_counts(normalize=True)
        q = real_min[col].astype(str).value_counts(normalize=True)
        return {"tv": 0.5 * float(p.sub(q, fill_value=0).abs().sum())}
    ref = pd.concat([real_min[col], real_other[col]]).astype(float)
    sd = float(ref.std()) or 1.0
    m_min, m_other = float(real_min[col].mean()), float(real_other[col].mean())
    shift = (float(values.mean()) - m_min) / sd
    sep = (m_other - m_min) / sd
    sd_min = float(real_min[col].std())
    return {
        "shift_sd": shift,
        "toward_other": shift / sep if abs(sep) >= MIN_SEPARATION_SD else np.nan,
        "sd_ratio": float(values.std()) / sd_min if sd_min > 0 else np.nan,
        "copied": float(values.isin(set(train_class[col].astype(float))).mean()),
    }


def minority_probability(cell, minority, frames):
    """Mean minority probability that LR fitted on the training rows gives
    each frame of ``frames``."""
    X = cell.X_train
    cats = H.categorical_columns(X)
    model = H._pipeline(LogisticRegression(max_iter=1000), X, cats)
    model.fit(H._as_model_input(X, cats), np.asarray(cell.y_train) == minority)
    return [float(model.predict_proba(H._as_model_input(f[X.columns], cats))[:, 1]
                  .mean()) if len(f) else np.nan for f in frames]


def run_cell(cell, minority, args):
    from skteam import TeamTrimSampler

    ctx = cell.context
    y_train = np.asarray(cell.y_train)
    quota = H.balanced_quota(y_train, cell.n_add)
    options = dict(model=args.model, sampling_strategy=quota,
                   feature_descriptions=ctx.get("feature_descriptions"),
                   dataset_description=ctx.get("dataset_description"),
                   on_shortfall="warn", random_state=cell.seed, verbose=0)
    if args.no_qc:
        options["qc"] = ()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampler = TeamTrimSampler(**options)
        Xr, yr = sampler.fit_resample(cell.X_train, cell.y_train)
    seconds = time.perf_counter() - t0
    mask = sampler.synthetic_mask_ & (np.asarray(yr) == minority)
    gen = Xr[mask].reset_index(drop=True)
    y_test = np.asarray(cell.y_test)
    real_min = cell.X_test[y_test == minority]
    real_other = cell.X_test[y_test != minority]
    train_class = cell.X_train[y_train == minority]
    cats = set(H.categorical_columns(cell.X_train))
    out = []
    for source, rows in (("generated", gen), ("train", train_class)):
        for col in cell.X_train.columns:
            figures = column_figures(rows, col, real_min, real_other, train_class,
                                     col not in cats)
            out.append({"table": cell.dataset, "seed": cell.seed, "source": source,
                        "column": col, **figures})
    keys = cell.X_train.astype(str).agg("|".join, axis=1)
    gen_keys = gen.astype(str).agg("|".join, axis=1) if len(gen) else pd.Series([])
    p_gen, p_train, p_test = minority_probability(
        cell, minority, [gen, train_class, real_min])
    summary = {"table": cell.dataset, "seed": cell.seed, "generated": len(gen),
               "row_copies": float(gen_keys.isin(set(keys)).mean()) if len(gen)
               else np.nan,
               "p_min_generated": p_gen, "p_min_train": p_train,
               "p_min_heldout": p_test, "seconds": round(seconds, 1),
               "qc": "none" if args.no_qc else "default"}
    return out, summary


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tables", nargs="+", default=["Drug", "Diabetes"])
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--size", type=int, default=8)
    p.add_argument("--no-qc", action="store_true")
    p.add_argument("--model", default="embedded")
    p.add_argument("--out", default=str(RESULTS / "fidelity.csv"))
    args = p.parse_args(argv)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    columns, cells = [], []
    for name in args.tables:
        table = T.TABLES[name]
        found, _ = S.table_cells(table, [args.size], S.RATIO, seeds, S.TEST_ROWS, None)
        for cell in found:
            out, summary = run_cell(cell, table.minority, args)
            columns += out
            cells.append(summary)
            print(summary, flush=True)
    df = pd.DataFrame(columns)
    df.to_csv(args.out, index=False)
    pd.DataFrame(cells).to_csv(Path(args.out).with_name(
        Path(args.out).stem + "_cells.csv"), index=False)
    numeric = df.dropna(subset=["shift_sd"]).assign(
        abs_shift=lambda d: d.shift_sd.abs())
    print(numeric.groupby(["table", "source"])[
        ["abs_shift", "toward_other", "sd_ratio", "copied"]].mean().round(2))
    if "tv" in df:
        tv = df.dropna(subset=["tv"]).groupby(["table", "source"])["tv"].mean()
        print(tv.round(2))
    print(pd.DataFrame(cells).round(3).to_string())


if __name__ == "__main__":
    main()
