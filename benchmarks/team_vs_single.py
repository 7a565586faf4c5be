"""Generation on COMPAS without QC: the team plan against one whole-row prompt.

Measures, on the same model and data, for the manager's team plan
(``team``), for the fixed three-role chain demographics -> juvenile record ->
criminal history of ``perf.FIXED_PLANS`` (``team (fixed plan)``, as in T²'s
Table 8) and for a plan with a single role holding every feature (``single
prompt``: one prompt writes whole rows):
- the share of generated rows with ``priors_count >= juv_fel_count``
  (a constraint neither generator is told about);
- the share with ``juv_fel_count > 0`` (3.6 % of the real table), the share
  of generated rows equal to a training row on every feature (a copied row
  keeps the relation without the model having learnt it) and the number of
  distinct rows;
- parse failures, output tokens per generated cell, rows per second.

With ``--constraints "priors_count >= juv_fel_count"`` the generators are
told the constraint (QC stays off): where a plan puts ``juv_fel_count`` and
``priors_count`` in different roles, the later worker's grammar keeps to it
given the earlier role's values; a single role has nothing to narrow.

Writes ``benchmarks/results/team_vs_single.csv`` and the generated rows to
``team_vs_single_rows.csv`` (named after ``--out``).

Usage: ``python benchmarks/team_vs_single.py [--rows 500] [--train 200]
[--model embedded] [--seed 0] [--generators team "team (fixed plan)"
"single prompt"] [--constraints RULE ...] [--out CSV]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from perf import FIXED_PLANS  # noqa: E402  (same folder)

import skteam.testing  # noqa: E402, F401  (registers --model test::uniform)
from skteam import TeamTrimSampler  # noqa: E402
from skteam.datasets import COMPAS_DESCRIPTIONS, load_compas  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def run(plan, X, y, rows, model, seed, constraints=None):
    n1 = int((y == 1).sum())
    n0 = int((y == 0).sum())
    sampler = TeamTrimSampler(
        model=model, qc=(), plan=plan, random_state=seed, verbose=1,
        constraints=constraints,
        feature_descriptions={k: v for k, v in COMPAS_DESCRIPTIONS.items()
                              if k in X.columns},
        sampling_strategy={0: n0 + rows // 2, 1: n1 + rows - rows // 2},
    )
    start = time.perf_counter()
    X_res, _ = sampler.fit_resample(X, y)
    seconds = time.perf_counter() - start
    new = X_res[sampler.synthetic_mask_]
    schema = sampler.schema_
    inside = np.ones(len(new), dtype=bool)
    for f in schema.features:
        inside &= new[f.name].between(f.low, f.high).to_numpy()
    stats = sampler.generation_stats_
    # a generated row equal to a training row on every feature is a copy: a
    # copy keeps every relation of the real row without having learnt it
    real = set(map(tuple, X.astype(float).to_numpy()))
    copies = np.array([tuple(r) in real for r in new.astype(float).to_numpy()])
    return new, {
        "plan": sampler.plan_["source"],
        "roles": len(sampler.plan_["roles"]),
        "rows": len(new),
        "priors_ge_juv_fel": float(
            (new["priors_count"] >= new["juv_fel_count"]).mean()),
        "juv_fel_positive": float((new["juv_fel_count"] > 0).mean()),
        "copies_of_training_rows": float(copies.mean()) if len(new) else np.nan,
        "distinct_rows": int(len(new.drop_duplicates())),
        "inside_schema": float(inside.mean()),
        "parse_failures": stats["parse_failures"],
        "output_tokens_per_cell": stats["output_tokens_per_cell"],
        "forced_tokens": stats["forced_tokens"],
        "output_tokens": stats["output_tokens"],
        "rows_per_second": round(len(new) / seconds, 4),
        "seconds": round(seconds, 1),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=500)
    p.add_argument("--train", type=int, default=200)
    p.add_argument("--model", default="embedded")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--generators", nargs="+",
                   default=["team", "team (fixed plan)", "single prompt"],
                   choices=["team", "team (fixed plan)", "single prompt"])
    p.add_argument("--constraints", nargs="+", default=None,
                   help="constraints told to the generators (QC stays off)")
    p.add_argument("--out", default=str(RESULTS / "team_vs_single.csv"))
    args = p.parse_args(argv)
    X, y = load_compas()
    idx = np.random.default_rng(args.seed).permutation(len(X))[: args.train]
    X, y = X.iloc[idx].reset_index(drop=True), y.iloc[idx].reset_index(drop=True)
    single = {"roles": [{"name": "Record writer", "features": list(X.columns)}]}
    out, generated = [], []
    plans = {"team": None, "team (fixed plan)": FIXED_PLANS["compas"],
             "single prompt": single}
    for name in args.generators:
        plan = plans[name]
        new, row = run(plan, X, y, args.rows, args.model, args.seed,
                       args.constraints)
        generated.append(new.assign(generator=name))
        row.update(generator=name, model=args.model, seed=args.seed,
                   train_rows=args.train,
                   constraints="; ".join(args.constraints or []))
        print(row, flush=True)
        out.append(row)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(out).to_csv(path, index=False)
    rows_path = path.with_name(path.stem + "_rows.csv")
    pd.concat(generated, ignore_index=True).to_csv(rows_path, index=False)
    print(f"wrote {path} and {rows_path}")


if __name__ == "__main__":
    main()
