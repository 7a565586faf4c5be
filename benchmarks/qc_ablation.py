"""Per-stage QC ablation on COMPAS: none, +sanity, +cost, +diversity.

The four settings read the same raw batches (the generation stream does not
depend on the QC), so the comparison isolates the QC. For each setting and
seed: the downstream AUC of LogisticRegression trained on the resampled
data and tested on held-out rows, the rows each stage dropped, and the
number of batches read.

Writes ``benchmarks/results/qc_ablation.csv`` (or ``--out``).

The sanity stage checks the schema and :data:`CONSTRAINTS` (relations the
row grammar cannot enforce unless the plan writes their columns in
different roles, whose workers then keep to them);
``--no-constraints`` leaves it the schema only.

Usage: ``python benchmarks/qc_ablation.py [--train 100] [--rows 40]
[--seeds 0 1] [--model embedded] [--no-constraints] [--out CSV]``
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import skteam.testing  # noqa: F401  (registers --model test::uniform)
from skteam import TeamTrimSampler
from skteam.datasets import load_compas

RESULTS = Path(__file__).parent / "results"
# What the grammar cannot guarantee: relations between columns of COMPAS
# (prior offences include juvenile felonies; one-hot groups hold one 1).
CONSTRAINTS = [
    "priors_count >= juv_fel_count",
    "`age_cat_25-45` + age_cat_Greaterthan45 + age_cat_Lessthan25 == 1",
    "c_charge_degree_F + c_charge_degree_M == 1",
    "`race_African-American` + race_Caucasian <= 1",
]
SETTINGS = {
    "none": (),
    "+sanity": ("sanity",),
    "+cost": ("sanity", "cost"),
    "+diversity": ("sanity", "cost", "diversity"),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=int, default=100)
    p.add_argument("--test", type=int, default=500)
    p.add_argument("--rows", type=int, default=40, help="rows to add to class 1")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--model", default="embedded")
    p.add_argument("--max-batches", type=int, default=12)
    p.add_argument("--no-constraints", action="store_true",
                   help="run the sanity stage without CONSTRAINTS")
    p.add_argument("--out", default=str(RESULTS / "qc_ablation.csv"))
    args = p.parse_args(argv)
    X, y = load_compas()
    out = []
    for seed in args.seeds:
        perm = np.random.default_rng(seed).permutation(len(X))
        tr, te = perm[: args.train], perm[args.train: args.train + args.test]
        Xtr, ytr = X.iloc[tr].reset_index(drop=True), y.iloc[tr].reset_index(drop=True)
        Xte, yte = X.iloc[te], y.iloc[te]
        base = LogisticRegression(max_iter=1000).fit(Xtr, ytr)
        out.append({"setting": "D_ori only", "seed": seed, "kept": 0,
                    "auc": roc_auc_score(yte, base.predict_proba(Xte)[:, 1])})
        for name, stages in SETTINGS.items():
            sampler = TeamTrimSampler(
                model=args.model, qc=stages, random_state=seed, verbose=0,
                sampling_strategy={1: int((ytr == 1).sum()) + args.rows},
                max_batches=args.max_batches, on_shortfall="warn",
                constraints=None if args.no_constraints else CONSTRAINTS)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                Xr, yr = sampler.fit_resample(Xtr, ytr)
            model = LogisticRegression(max_iter=1000).fit(Xr, yr)
            rep = sampler.qc_report_
            out.append({
                "setting": name, "seed": seed,
                "kept": int(sampler.synthetic_mask_.sum()),
                "batches": len(rep),
                "dropped_sanity": int(rep["dropped_sanity"].sum()),
                "dropped_cost": int(rep["dropped_cost"].sum()),
                "dropped_diversity": int(rep["dropped_diversity"].sum()),
                "auc": roc_auc_score(yte, model.predict_proba(Xte)[:, 1]),
            })
            print(out[-1], flush=True)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(out)
    df.to_csv(path, index=False)
    print(f"wrote {path}")
    print(df.groupby("setting")[["auc", "kept"]].agg(["mean", "std"]))


if __name__ == "__main__":
    main()
