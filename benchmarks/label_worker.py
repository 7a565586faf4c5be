"""How well the label worker labels real rows, by how it picks its examples.

The label worker (paper §2.1, Ψ_{K+1}) decides the class of every generated
row. This script gives it *real* held-out rows, whose class is known, and
measures how often it agrees, for each way of choosing the real rows its
prompt shows (``label_rows(example_choice=...)``) and each temperature:

- ``balanced``: rows drawn at random, balanced over the classes;
- ``nearest``: the rows nearest to the prompt's rows (Gower), any class;
- ``nearest_per_class``: the nearest rows of each class, as many per class.

References on the same D_ori: the majority class, and a 1-nearest-neighbour
classifier on Gower distance (what copying the label of the closest shown
example would score).

Settings:
- ``diabetes-imbalance``: Diabetes risk groups, D_ori = 10 rows at 7:2:1
  (table 1's setting), rounded as in T²'s Fig. 5;
- ``diabetes-30``: Diabetes risk groups, D_ori = 30 rows at 1:1:1;
- ``compas-50``: COMPAS, D_ori = 50 balanced rows.
The test rows are balanced over the classes (``--test`` rows in all).

Writes ``benchmarks/results/label_worker.csv`` (one row per setting, seed,
configuration) and prints a summary table.

Usage: ``python benchmarks/label_worker.py [--settings ...] [--seeds 3]
[--test 60] [--temperatures 0.8 0] [--examples balanced nearest
nearest_per_class] [--model embedded] [--out CSV]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score
from tqdm.auto import tqdm

import skteam.testing  # noqa: F401  (registers --model test::uniform)
from skteam.datasets import (
    COMPAS_DESCRIPTIONS,
    DIABETES_DESCRIPTIONS,
    load_compas,
    make_diabetes,
)
from skteam.llm import Usage
from skteam.llm.registry import get_backend
from skteam.sampler import LABEL_EXAMPLES
from skteam.schema import Schema
from skteam.team.examples import ExamplePool
from skteam.team.generation import GenerationTuning
from skteam.team.labeler import label_rows

RESULTS = Path(__file__).parent / "results"
SETTINGS = ("diabetes-imbalance", "diabetes-30", "compas-50")


def _balanced(X, y, n, rng):
    classes = np.unique(y)
    per = n // len(classes)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), per, replace=False)
                          for c in classes])
    idx = rng.permutation(idx)
    return X.iloc[idx].reset_index(drop=True), np.asarray(y)[idx]


def data(setting: str, seed: int, n_test: int):
    """D_ori, test rows and feature descriptions of one setting."""
    rng = np.random.default_rng(seed + 10000)
    if setting.startswith("diabetes"):
        ratio, n = (((7, 2, 1), 10) if setting == "diabetes-imbalance"
                    else ((1, 1, 1), 30))
        X, y = make_diabetes(n, class_ratio=ratio, rounded=True, random_state=seed)
        X_pop, y_pop = make_diabetes(50 * n_test, class_ratio=(1, 1, 1), rounded=True,
                                     random_state=seed + 10000)
        X_test, y_test = _balanced(X_pop, np.asarray(y_pop), n_test, rng)
        return X, np.asarray(y), X_test, y_test, DIABETES_DESCRIPTIONS
    X_all, y_all = load_compas()
    y_all = np.asarray(y_all)
    order = np.random.default_rng(seed).permutation(len(X_all))
    X_all, y_all = X_all.iloc[order].reset_index(drop=True), y_all[order]
    X, y = _balanced(X_all.iloc[:len(X_all) // 2], y_all[:len(X_all) // 2], 50,
                     np.random.default_rng(seed))
    X_test, y_test = _balanced(X_all.iloc[len(X_all) // 2:].reset_index(drop=True),
                               y_all[len(X_all) // 2:], n_test, rng)
    return X, y, X_test, y_test, {k: v for k, v in COMPAS_DESCRIPTIONS.items()
                                  if k in X.columns}


def one_nn(pool: ExamplePool, names, rows, seed) -> list:
    rng = np.random.default_rng(seed)
    return [pool.y[pool.nearest(rng, 1, None, names, [r])[0]] for r in rows]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--test", type=int, default=60)
    ap.add_argument("--temperatures", type=float, nargs="+", default=[0.8, 0.0])
    ap.add_argument("--examples", nargs="+",
                    default=["balanced", "nearest", "nearest_per_class"])
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--out", default=str(RESULTS / "label_worker.csv"))
    args = ap.parse_args(argv)

    backend = get_backend(args.model)
    out = []
    jobs = [(s, seed) for s in args.settings for seed in range(args.seeds)]
    configs = [(e, t) for e in args.examples for t in args.temperatures]
    bar = tqdm(total=len(jobs) * (len(configs) + 1), desc="label worker")
    for setting, seed in jobs:
        X, y, X_test, y_test, desc = data(setting, seed, args.test)
        schema = Schema.infer(X, y, descriptions=desc)
        pool = ExamplePool(schema, X, y)
        rows = X_test[schema.names].to_dict("records")
        k = GenerationTuning().rows_per_prompt
        groups = [rows[i:i + k] for i in range(0, len(rows), k)]
        keys = [(seed, 77, g) for g in range(len(groups))]
        base = {"setting": setting, "seed": seed, "n_ori": len(y),
                "n_test": len(y_test), "model": args.model}
        refs = {
            "majority class": [pd.Series(y).mode()[0]] * len(y_test),
            "1-NN (Gower)": one_nn(pool, schema.names, rows, seed),
        }
        for name, pred in refs.items():
            out.append({**base, "examples": name, "temperature": np.nan,
                        **_scores(y_test, pred, schema.classes), "seconds": 0.0})
        bar.update(1)
        for how, temp in configs:
            usage = Usage()
            start = time.perf_counter()
            labels = label_rows(backend, schema, pool, groups, keys,
                                n_examples=LABEL_EXAMPLES, temperature=temp,
                                example_choice=how, usage=usage)
            pred = [lab for g in labels for lab in g]
            out.append({**base, "examples": how, "temperature": temp,
                        **_scores(y_test, pred, schema.classes),
                        "seconds": round(time.perf_counter() - start, 2)})
            bar.update(1)
            pd.DataFrame(out).to_csv(args.out, index=False)
    bar.close()
    df = pd.DataFrame(out)
    df.to_csv(args.out, index=False)
    summary = (df.fillna({"temperature": -1})
               .groupby(["setting", "examples", "temperature"], sort=False)
               [["accuracy", "balanced_accuracy"]].agg(["mean", "std"]).round(3))
    print(summary.to_string())
    print(f"wrote {args.out}")


def _scores(y_true, pred, classes) -> dict:
    pred = np.array([p if p is not None else "<none>" for p in pred], dtype=object)
    y_true = np.asarray(y_true, dtype=object)
    scores = {"accuracy": float(np.mean(pred == y_true)),
              "balanced_accuracy": float(balanced_accuracy_score(
                  y_true.astype(str), pred.astype(str))),
              "unparsed": int(np.sum(pred == "<none>"))}
    for c in classes:
        scores[f"share_{c}"] = float(np.mean(pred == c))
    return scores


if __name__ == "__main__":
    main()
