"""Plan quality: the adjusted Rand index of skteam's plans against groupings
written by hand.

Every ``benchmarks/plans/<table>.json`` holds a reference grouping of a
table's features, written from the columns' meaning with a sentence of
reasoning per role before any plan was scored against it. For each table
and seed, a tiny training set is drawn as the utility suite draws it
(``suite.py``: ``--minority`` rows of the minority class and ``--ratio``
times as many of the others), and these plans are made from it:

- ``manager (one call)``: the task manager's single grammar-constrained call
  (:func:`skteam.team.manager.plan_with_manager`), repaired;
- ``manager (in steps)``: the decomposed task manager
  (:func:`skteam.team.manager.plan_in_steps`: a group name per feature, one
  choice per feature among the names, a yes/no per pair of roles);
- ``data``: the data-aware plan (:func:`skteam.team.data_plan.data_plan`)
  with the model's reading of the feature names
  (:func:`skteam.team.meaning.meaning_similarity`), as the sampler builds it;
- ``data (no meaning)``: the same from association and shared words alone
  (what a backend that cannot embed text gets);
- ``data (no order)``: ``data`` without the column-order term
  (``order_weight=0``);
- ``data (columns shuffled)``: ``data`` of the table with its columns in a
  random order (seeded): what the column-order term costs where the order
  says nothing;
- ``default``: the plan :class:`~skteam.TeamTrimSampler` uses with default
  parameters (:func:`skteam.team.make_plan`);
- ``one role``: every feature in one role (the single prompt; ARI 0).

The ARI compares the features' role assignments (role names and order are
ignored). Writes ``results/plan_quality.csv`` (one row per table, seed and
plan, with the plan's roles and source) and ``results/plan_quality.md``
(mean ARI per table and plan, and over the tables).

Usage: ``python benchmarks/plan_quality.py [--tables COMPAS Drug ...]
[--seeds 0 1 2] [--minority 8] [--ratio 5] [--model embedded]
[--plans "manager (one call)" ...]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, str(Path(__file__).parent))
import _suite_tables as T  # noqa: E402  (same folder)
from suite import class_counts, draw_split  # noqa: E402

from skteam.llm import get_backend  # noqa: E402
from skteam.schema import Schema  # noqa: E402
from skteam.team import make_plan  # noqa: E402
from skteam.team.data_plan import data_plan  # noqa: E402
from skteam.team.manager import plan_in_steps, plan_with_manager  # noqa: E402
from skteam.team.meaning import meaning_similarity  # noqa: E402
from skteam.team.plan import Plan, Role  # noqa: E402

HERE = Path(__file__).parent
RESULTS = HERE / "results"
PLANS = ("manager (one call)", "manager (in steps)", "data (no meaning)", "data",
         "data (no order)", "data (columns shuffled)", "default", "one role")


def load_reference(path: Path):
    """``(table, feature -> reference role, held-out set)`` of a
    ``plans/*.json`` file; the held-out set is 0 for the first tables, 1 for
    the references written after the default plan's settings were chosen,
    2 for those written after the changes the first held-out set prompted
    (``"held_out": true`` counts as 1)."""
    ref = json.loads(path.read_text())
    return (ref["table"], {f: r["name"] for r in ref["roles"] for f in r["features"]},
            int(ref.get("held_out", 0)))


def load_table(name: str):
    """``(X, y, feature descriptions, dataset description, minority)``."""
    if name == "TravelBehavior":
        from skteam.datasets import TRAVEL_DESCRIPTIONS, make_travel_behavior

        X, y = make_travel_behavior(2000, random_state=0)
        return (X, pd.Series(y), dict(TRAVEL_DESCRIPTIONS),
                "One row is a commuter offered a travel-app alternative (simulated)",
                int(pd.Series(y).value_counts().idxmin()))
    table = T.table(name)
    X, y, desc = table.load()
    return X, y, desc, table.description, table.minority


def ari(plan: Plan, reference: dict) -> float:
    """Adjusted Rand index of ``plan``'s roles against ``reference``."""
    role_of = {f: r.name for r in plan.roles for f in r.features}
    features = sorted(reference)
    missing = [f for f in features if f not in role_of]
    if missing:
        raise ValueError(f"plan lacks reference features {missing}")
    return float(adjusted_rand_score([reference[f] for f in features],
                                     [role_of[f] for f in features]))


def _shuffled_plan(schema, X, y, meaning, seed):
    """The data plan of the table with its columns in a random order (what
    the column-order term costs where the order means nothing); ``meaning``
    is the names' similarity in schema order, permuted with the columns."""
    order = np.random.RandomState(seed).permutation(len(schema.names))
    shuffled = replace(schema, features=tuple(schema.features[i] for i in order))
    if meaning is not None:
        meaning = meaning[np.ix_(order, order)]
    return data_plan(shuffled, X[shuffled.names], y, meaning=meaning)


def make_plans(names, backend, schema, X, y, seed):
    """Name -> (plan, seconds) for the plans asked for."""
    out = {}
    # the names' similarity, embedded once for the data plans that use it
    meaning = functools.cache(lambda: meaning_similarity(backend, schema))
    for name in names:
        start = time.perf_counter()
        if name == "manager (one call)":
            idx = np.random.RandomState(seed).permutation(len(X))[:5]
            plan = plan_with_manager(backend, schema, X.iloc[idx].values.tolist(),
                                     seed=seed)
        elif name == "manager (in steps)":
            plan = plan_in_steps(backend, schema, X, y, seed=seed)
        elif name == "data":
            plan = data_plan(schema, X, y, meaning=meaning())
        elif name == "data (no meaning)":
            plan = data_plan(schema, X, y)
        elif name == "data (no order)":
            plan = data_plan(schema, X, y, meaning=meaning(), order_weight=0.0)
        elif name == "data (columns shuffled)":
            plan = _shuffled_plan(schema, X, y, meaning(), seed)
        elif name == "default":
            plan = make_plan(backend, schema, X, y, seed=seed)
        elif name == "one role":
            plan = Plan((Role("All features", tuple(schema.names)),), (),
                        source="one role")
        else:
            raise ValueError(f"unknown plan {name!r}; use some of {PLANS}")
        out[name] = (plan, time.perf_counter() - start)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    refs = sorted(p.stem for p in (HERE / "plans").glob("*.json"))
    p.add_argument("--tables", nargs="+", default=refs, choices=refs)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--minority", type=int, default=8)
    p.add_argument("--ratio", type=int, default=5)
    p.add_argument("--model", default="embedded")
    p.add_argument("--plans", nargs="+", default=list(PLANS), choices=PLANS)
    p.add_argument("--out", default=str(RESULTS / "plan_quality.csv"))
    args = p.parse_args(argv)

    backend = get_backend(args.model)
    records = []
    for name in args.tables:
        table, reference, held_out = load_reference(HERE / "plans" / f"{name}.json")
        X, y, desc, dataset, minority = load_table(table)
        extra = sorted(set(X.columns) ^ set(reference))
        if extra:
            raise ValueError(f"{name}: reference and table differ on {extra}")
        for seed in args.seeds:
            counts = class_counts(y, minority, args.minority,
                                  args.ratio * args.minority)
            train, _ = draw_split(y, counts, seed, n_test=len(y))
            Xs = X.iloc[train].reset_index(drop=True)
            ys = y.iloc[train].reset_index(drop=True)
            schema = Schema.infer(Xs, ys, descriptions={
                c: desc[c] for c in Xs.columns if c in desc},
                dataset_description=dataset)
            for plan_name, (plan, seconds) in make_plans(
                    args.plans, backend, schema, Xs, ys, seed).items():
                score = ari(plan, reference)
                records.append({
                    "table": name, "held_out": held_out, "seed": seed,
                    "plan": plan_name,
                    "ari": round(score, 4), "roles": len(plan.roles),
                    "source": plan.source, "seconds": round(seconds, 2),
                    "grouping": " | ".join(f"{r.name}: {', '.join(r.features)}"
                                           for r in plan.roles),
                    "train_rows": len(Xs), "model": args.model})
                print(f"{name} seed {seed} {plan_name}: ARI {score:.2f} "
                      f"({plan.source}) {records[-1]['grouping']}", flush=True)
    df = pd.DataFrame(records)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    table = df.pivot_table(index="table", columns="plan", values="ari",
                           aggfunc="mean")[args.plans]
    sets = df.groupby("held_out")["table"].unique()
    means = {}
    if len(sets) > 1:
        for number, tables in sets.items():
            label = ("first tables" if number == 0 else
                     f"held-out tables (set {number})")
            means[f"mean over the {len(tables)} {label}"] = \
                table.loc[sorted(tables)].mean()
    means["mean over tables"] = table.mean()
    for label, row in means.items():
        table.loc[label] = row
    md = ["# Plan quality: adjusted Rand index against hand-written groupings",
          "",
          f"`python benchmarks/plan_quality.py --seeds {' '.join(map(str, args.seeds))}"
          f" --minority {args.minority} --ratio {args.ratio} --model {args.model}`; "
          f"training sets of {args.minority} minority + "
          f"{args.ratio * args.minority} other rows, drawn as `suite.py` draws "
          "them; mean ARI over the seeds (1 = the reference grouping, 0 = chance "
          "level, one role scores 0). Held-out tables: their references were "
          "written after the default plan's settings were chosen on the first "
          "tables (`\"held_out\": 1` or `true` in `plans/*.json`; set 2: "
          "after the changes set 1 prompted).", "",
          "| table | " + " | ".join(args.plans) + " |",
          "|---" * (len(args.plans) + 1) + "|"]
    for idx, row in table.iterrows():
        md.append(f"| {idx} | " + " | ".join(f"{v:.2f}" for v in row) + " |")
    md += ["", "Seconds per plan (mean): " + ", ".join(
        f"{k} {v:.1f}" for k, v in df.groupby("plan")["seconds"].mean().items())]
    Path(out.with_suffix(".md")).write_text("\n".join(md) + "\n")
    print("\n".join(md))
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return df


if __name__ == "__main__":
    main()
