"""Do generated rows keep the signs of a column's values?

A table of 6 columns drawn from N(0, 1) (2 decimals), 60 rows of which 20
are of class 1; ``TeamTrimSampler`` adds 20 rows of class 1 (the bundled
model, the default plan): with ``signs="free"`` (the model writes the signs)
without QC at temperature 0.8 and 1.0 and with the default QC, and with the
default ``signs="anchored"`` (each row takes a real row's signs) without and
with the default QC. Prints and writes, per column, the share of negative
values and the mean in the real class-1 rows and in the generated rows.

Usage: ``python benchmarks/sign_bias.py [--seed 0] [--model embedded]``;
writes ``benchmarks/results/sign_bias.csv``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from skteam import TeamTrimSampler

RESULTS = Path(__file__).parent / "results"
VARIANTS = {"free, no QC, T=0.8": dict(signs="free", qc=(), temperature=0.8),
            "free, no QC, T=1.0": dict(signs="free", qc=(), temperature=1.0),
            "free, default QC, T=0.8": dict(signs="free", temperature=0.8),
            "anchored, no QC, T=0.8": dict(qc=(), temperature=0.8),
            "anchored, default QC, T=0.8": dict(temperature=0.8)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default="embedded")
    p.add_argument("--out", default=str(RESULTS / "sign_bias.csv"))
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    X = pd.DataFrame({f"x{i}": rng.normal(0, 1, 60).round(2) for i in range(6)})
    y = np.array([1] * 20 + [0] * 40)
    real = X[y == 1]
    rows = [{"variant": "real (class 1)", "seed": args.seed, "column": c,
             "negative_share": float((real[c] < 0).mean()),
             "mean": float(real[c].mean())}
            for c in X]
    for name, options in VARIANTS.items():
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = TeamTrimSampler(model=args.model, random_state=args.seed, **options)
            Xr, _ = s.fit_resample(X, y)
        gen = Xr[s.synthetic_mask_]
        rows += [{"variant": name, "seed": args.seed, "column": c,
                  "negative_share": float((gen[c] < 0).mean()),
                  "mean": float(gen[c].mean()),
                  "seconds": round(time.perf_counter() - t0, 1)} for c in X]
    df = pd.DataFrame(rows)
    print(df.pivot_table(index="variant", columns="column",
                         values="negative_share", sort=False).round(2).to_string())
    print(df.pivot_table(index="variant", columns="column", values="mean",
                         sort=False).round(2).to_string())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
