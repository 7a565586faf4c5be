"""Cost of tuning the QC thresholds with GridSearchCV.

Runs ``GridSearchCV(make_pipeline(TeamTrimSampler(random_state=0),
LogisticRegression()), {"teamtrimsampler__cost_c": VALUES}, cv=3)`` (the
sampler's defaults otherwise) on an imbalanced COMPAS subsample (``--train``
rows, a fifth of them recidivists), once with one value of ``cost_c`` (0)
and once with four (-0.5, 0, 0.5, 1), each in a fresh process, and reports
the wall times and their ratio. Raw batches are shared between candidates
(they do not depend on the QC thresholds) and so are the cost duel's
bootstrap draws, so the ratio should stay near 1. After the timed search,
each candidate resamples the whole subsample once more (from the cache) and
the script reports how many distinct sets of generated rows the candidates
return (``distinct_row_sets``): a threshold that changes nothing would give
1. Where the time goes: ``fold_fit_seconds`` (each candidate's mean fit
time over the folds, ``cv_results_["mean_fit_time"]``), ``refit_seconds``
(the refit on the whole subsample, ``refit_time_``) and ``best_cost_c``
(the value refitted).

Writes ``benchmarks/results/grid_cost.csv``.

``--values`` replaces the four values, e.g. ``--values 0 1 2 3`` (the
paper's range, c ∈ [0, 3]); the one-value search uses 0 when it is among
them (the default), else the first. ``--values auto`` reads four values
from one fit of the sampler's defaults on the whole subsample
(:func:`skteam.tuning.cost_c_grid`, in a fresh process of its own whose
seconds are reported as ``grid_seconds``); the one-value search then uses
the first of them, the default ``cost_c``.
``--n-jobs`` sets the sampler's ``n_jobs`` (worker processes for the cost
duel's null draws; the rows are the same). ``--out`` names the CSV.

Usage: ``python benchmarks/grid_cost.py [--train 60] [--model embedded]
[--values -0.5 0 0.5 1 | --values auto] [--n-jobs N] [--out grid_cost.csv]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).parent / "results"

SETUP = r"""
import hashlib, json, sys, time, warnings
import numpy as np
from imblearn.pipeline import make_pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
import skteam.testing  # registers --model test::uniform
from skteam import TeamTrimSampler
from skteam.datasets import load_compas
values, n, model = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
n_jobs = json.loads(sys.argv[4])
X, y = load_compas()
rng = np.random.default_rng(0)
n_min = n // 5  # an imbalanced subsample: n_min recidivists, the rest not
idx = np.r_[rng.choice(np.flatnonzero(y == 1), n_min, replace=False),
            rng.choice(np.flatnonzero(y == 0), n - n_min, replace=False)]
X, y = X.iloc[idx].reset_index(drop=True), y.iloc[idx].reset_index(drop=True)
sampler = TeamTrimSampler(model=model, random_state=0, verbose=0, n_jobs=n_jobs)
"""

# one fit of the defaults on the whole subsample; the values it suggests
AUTO = SETUP + r"""
from skteam.tuning import cost_c_grid
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    sampler.fit_resample(X, y)
print(json.dumps({"values": cost_c_grid(sampler, n=4),
                  "seconds": time.perf_counter() - start}))
"""

CHILD = SETUP + r"""
pipe = make_pipeline(sampler, LogisticRegression(max_iter=1000))
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    search = GridSearchCV(pipe, {"teamtrimsampler__cost_c": values}, cv=3).fit(X, y)
    seconds = time.perf_counter() - start
    # not timed: the rows each candidate returns on the whole table
    digests = []
    for c in values:
        Xr, _ = sampler.set_params(cost_c=c).fit_resample(X, y)
        digests.append(hashlib.sha1(Xr[sampler.synthetic_mask_].to_csv(
            index=False).encode()).hexdigest()[:12])
print(json.dumps({"seconds": seconds, "digests": digests,
                  "filled_share": sampler.generation_stats_.get("filled_share"),
                  "fit_seconds": search.cv_results_["mean_fit_time"].round(1).tolist(),
                  "refit_seconds": search.refit_time_,
                  "best": search.best_params_["teamtrimsampler__cost_c"]}))
"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=int, default=60)
    p.add_argument("--model", default="embedded")
    p.add_argument("--values", nargs="+", default=["-0.5", "0", "0.5", "1"],
                   help="values of cost_c, or 'auto' (skteam.tuning.cost_c_grid)")
    p.add_argument("--n-jobs", type=int, default=None,
                   help="the sampler's n_jobs (worker processes for the null draws)")
    p.add_argument("--out", default="grid_cost.csv")
    args = p.parse_args(argv)
    rows, extra = [], {}
    if args.values == ["auto"]:
        res = _child(AUTO, [], args)
        grid = res["values"]
        extra = {"grid": "auto", "grid_seconds": round(res["seconds"], 1)}
        print(f"cost_c_grid: {grid} ({res['seconds']:.1f} s)", flush=True)
        one = grid[:1]
    else:
        grid = [float(v) for v in args.values]
        one = [0.0] if 0.0 in grid else grid[:1]
    for values in (one, grid):
        res = _child(CHILD, values, args)
        rows.append({"values": len(values), "seconds": round(res["seconds"], 1),
                     "train_rows": args.train, "model": args.model,
                     "n_jobs": args.n_jobs,
                     "cost_c": " ".join(map(str, values)),
                     "distinct_row_sets": len(set(res["digests"])),
                     "row_digests": " ".join(res["digests"]),
                     "fold_fit_seconds": " ".join(map(str, res["fit_seconds"])),
                     "refit_seconds": round(res["refit_seconds"], 1),
                     "best_cost_c": res["best"]})
        print(rows[-1], flush=True)
    ratio = rows[1]["seconds"] / rows[0]["seconds"]
    print(f"four values / one value = {ratio:.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).assign(ratio=round(ratio, 3), **extra).to_csv(
        RESULTS / args.out, index=False)


def _child(code, values, args) -> dict:
    """Run ``code`` in a fresh process; its last line of output, parsed."""
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(values), str(args.train), args.model,
         json.dumps(args.n_jobs)],
        capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
