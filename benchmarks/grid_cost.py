"""Cost of tuning the QC thresholds with GridSearchCV.

Runs ``GridSearchCV(make_pipeline(TeamTrimSampler(random_state=0),
LogisticRegression()), {"teamtrimsampler__cost_c": VALUES}, cv=3)`` on a
COMPAS subsample, once with one value of ``cost_c`` and once with four, each
in a fresh process, and reports the wall times and their ratio. Raw batches
are shared between candidates (they do not depend on the QC thresholds) and
so are the cost duel's null draws, so the ratio should stay near 1.

Writes ``benchmarks/results/grid_cost.csv``.

Usage: ``python benchmarks/grid_cost.py [--train 60] [--model embedded]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).parent / "results"

CHILD = r"""
import json, sys, time, warnings
import numpy as np
from imblearn.pipeline import make_pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
import skteam.testing  # registers --model test::uniform
from skteam import TeamTrimSampler
from skteam.datasets import load_compas
values, n, model = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
X, y = load_compas()
idx = np.random.default_rng(0).permutation(len(X))[:n]
X, y = X.iloc[idx].reset_index(drop=True), y.iloc[idx].reset_index(drop=True)
pipe = make_pipeline(TeamTrimSampler(model=model, random_state=0, verbose=0,
                                     on_shortfall="warn", max_batches=6),
                     LogisticRegression(max_iter=1000))
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    GridSearchCV(pipe, {"teamtrimsampler__cost_c": values}, cv=3).fit(X, y)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=int, default=60)
    p.add_argument("--model", default="embedded")
    args = p.parse_args(argv)
    rows = []
    for values in ([1.0], [0.0, 1.0, 2.0, 3.0]):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(values), str(args.train),
             args.model], capture_output=True, text=True, check=True)
        seconds = json.loads(out.stdout.strip().splitlines()[-1])["seconds"]
        rows.append({"values": len(values), "seconds": round(seconds, 1),
                     "train_rows": args.train, "model": args.model})
        print(rows[-1], flush=True)
    ratio = rows[1]["seconds"] / rows[0]["seconds"]
    print(f"four values / one value = {ratio:.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).assign(ratio=round(ratio, 3)).to_csv(
        RESULTS / "grid_cost.csv", index=False)


if __name__ == "__main__":
    main()
