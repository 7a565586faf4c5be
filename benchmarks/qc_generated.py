"""The QC on batches the bundled model really writes: which batches it accepts,
and whether the accepted ones help the downstream model.

Two steps:

1. ``--generate``: for each table and seed of the utility suite (8 minority
   + 40 other rows, ``suite.table_cells``), ``TeamTrimSampler(qc=())`` with
   the library's defaults writes ``--batches`` batches of ``batch_size``
   minority rows (target labels). The batches, the training set and the
   test set are pickled to ``--pool`` (default
   ``benchmarks/results/tmp/qc_pool.pkl``), so step 2 needs no model.
2. evaluation (default): every batch of the pool is judged by
   :class:`skteam.qc.TrimQC` (fitted on the training set, ``target`` the
   minority, ``D`` = the training set: each batch is judged on its own) for
   each ``cost_c`` of ``--c``. Per table, seed and ``c``: the share of
   batches accepted and of rows kept, and the minority ROC AUC of logistic
   regression and a random forest fitted on the training set plus (a) no
   rows, (b) every generated row, (c) the kept rows, (d) the rows of the
   rejected batches; the same for held-out real minority rows judged the
   same way ("real") as the reference a perfect generator would reach.

Writes ``benchmarks/results/qc_generated.csv`` and ``qc_generated.md``.

Usage: ``python benchmarks/qc_generated.py --generate [--tables ...]
[--seeds 2] [--batches 4]``, then ``python benchmarks/qc_generated.py
[--c -1 -0.5 0 0.5 1]``.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _harness as H  # noqa: E402
import _suite_tables as T  # noqa: E402
import suite as S  # noqa: E402

RESULTS = HERE / "results"
POOL = RESULTS / "tmp" / "qc_pool.pkl"
TABLES = ("Melanoma", "SwissLabor", "Mroz", "ICU", "Affairs", "Default")


def generate(args) -> None:
    from skteam import TeamTrimSampler

    pool = []
    if Path(args.pool).exists():
        pool = pickle.load(open(args.pool, "rb"))
    done = {(p["table"], p["seed"]) for p in pool}
    for name in args.tables:
        table = T.TABLES[name]
        cells, _ = S.table_cells(table, (8,), 5, range(args.seeds), 1000, None)
        for cell in cells:
            if (name, cell.seed) in done:
                continue
            t0 = time.perf_counter()
            y = cell.y_train
            minority = cell.context["minority"]
            n_min = int((y == minority).sum())
            sampler = TeamTrimSampler(
                sampling_strategy={minority: n_min + 10 * args.batches},
                feature_descriptions=cell.context.get("feature_descriptions"),
                dataset_description=cell.context.get("dataset_description"),
                qc=(), batch_size=10, random_state=cell.seed, verbose=0)
            Xr, yr = sampler.fit_resample(cell.X_train, y)
            mask = sampler.synthetic_mask_
            X_gen = Xr[mask].reset_index(drop=True)
            pool.append({"table": name, "seed": cell.seed, "minority": minority,
                         "X_train": cell.X_train, "y_train": y,
                         "X_test": cell.X_test, "y_test": cell.y_test,
                         "X_gen": X_gen, "seconds": time.perf_counter() - t0})
            Path(args.pool).parent.mkdir(parents=True, exist_ok=True)
            pickle.dump(pool, open(args.pool, "wb"))
            print(f"{name} seed {cell.seed}: {len(X_gen)} rows in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)


def held_out_real(p, n_rows, seed):
    """Held-out real minority rows (from the test set) as a pseudo-generator."""
    rng = np.random.default_rng(seed)
    idx = np.flatnonzero(np.asarray(p["y_test"]) == p["minority"])
    return p["X_test"].iloc[rng.choice(idx, size=min(n_rows, len(idx)),
                                       replace=False)].reset_index(drop=True)


def downstream(p, X_add) -> dict:
    """Minority AUC of LR and RF on the training set plus ``X_add``."""
    X = pd.concat([p["X_train"], X_add], ignore_index=True) if len(X_add) else \
        p["X_train"]
    y = pd.concat([p["y_train"], pd.Series([p["minority"]] * len(X_add),
                                           dtype=p["y_train"].dtype)],
                  ignore_index=True)
    classes = sorted(pd.unique(p["y_test"]).tolist())
    cats = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    out = {}
    for r in H.evaluate(X, y, p["X_test"], p["y_test"], classes, p["seed"], cats,
                        models=("LR", "RF")):
        key = f"auc_{p['minority']}" if f"auc_{p['minority']}" in r else "auc"
        auc = r.get(key, r.get("auc"))
        if len(classes) == 2 and p["minority"] != max(classes):
            auc = r.get("auc")  # ROC AUC is symmetric in the positive class
        out[r["model"]] = auc
    return out


def evaluate(args) -> pd.DataFrame:
    from skteam.qc import TrimQC

    pool = pickle.load(open(args.pool, "rb"))
    rows = []
    for p in pool:
        if p["table"] not in args.tables:
            continue
        gen = p["X_gen"]
        sources = {"generated": [gen.iloc[i:i + 10].reset_index(drop=True)
                                 for i in range(0, len(gen), 10)]}
        real = held_out_real(p, len(gen), p["seed"])
        sources["real"] = [real.iloc[i:i + 10].reset_index(drop=True)
                           for i in range(0, len(real), 10)]
        base = downstream(p, gen.iloc[:0])
        for c in args.c:
            qc = TrimQC(cost_c=c, cost_null_draws=args.null_draws,
                        random_state=p["seed"]).fit(p["X_train"], p["y_train"])
            for source, batches in sources.items():
                kept, rejected, acc = [], [], []
                for b in batches:
                    v = qc.trim_batch(b, np.full(len(b), p["minority"],
                                                 dtype=object).astype(
                                                     p["y_train"].dtype),
                                      target=p["minority"])
                    acc.append(bool(np.any(v.keep)))
                    kept.append(b[v.keep])
                    rejected.append(b[~v.keep])
                all_rows = pd.concat(batches, ignore_index=True)
                k = pd.concat(kept, ignore_index=True)
                r = pd.concat(rejected, ignore_index=True)
                res = {"all": downstream(p, all_rows), "kept": downstream(p, k),
                       "rejected": downstream(p, r)}
                for model in ("LR", "RF"):
                    rows.append({"table": p["table"], "seed": p["seed"], "c": c,
                                 "source": source, "model": model,
                                 "batches": len(batches),
                                 "accepted": float(np.mean(acc)),
                                 "kept_share": len(k) / max(1, len(all_rows)),
                                 "auc_ori": base[model],
                                 "auc_all": res["all"][model],
                                 "auc_kept": res["kept"][model],
                                 "auc_rejected": res["rejected"][model]})
            print(p["table"], p["seed"], c, flush=True)
    return pd.DataFrame(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--generate", action="store_true")
    ap.add_argument("--tables", nargs="+", default=list(TABLES))
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--pool", default=str(POOL))
    ap.add_argument("--c", type=float, nargs="+", default=[-1.0, -0.5, 0.0, 0.5, 1.0])
    ap.add_argument("--null-draws", type=int, default=200)
    ap.add_argument("--name", default="qc_generated")

    args = ap.parse_args(argv)
    if args.generate:
        generate(args)
        return
    df = evaluate(args)
    df.to_csv(RESULTS / f"{args.name}.csv", index=False)
    summary = df.groupby(["source", "model", "c"])[
        ["accepted", "kept_share", "auc_ori", "auc_all", "auc_kept",
         "auc_rejected"]].mean().round(3)
    text = (f"# QC on generated batches\n\nCommand: `python benchmarks/"
            f"qc_generated.py {' '.join(argv or sys.argv[1:])}`; tables "
            f"{sorted(df['table'].unique())}, seeds per table "
            f"{df.groupby('table')['seed'].nunique().max()}.\n\n"
            f"```\n{summary.to_string()}\n```\n")
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
