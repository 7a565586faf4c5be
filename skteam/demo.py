"""Demo: over-sample a small, skewed table with the embedded model.

Run with ``python -m skteam.demo`` (or ``make demo``). It loads the bundled
SmolLM2-135M model on the CPU, generates rows for the minority classes of a
30-row slice of the iris table with the library's default QC (sanity, cost
duel, diversity), and prints the generated rows it returns with the QC
report: which batches were accepted and how many rows each stage trimmed.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
from sklearn.datasets import load_iris


def demo_data(random_state=0):
    """A skewed 30-row slice of iris: 20 setosa, 7 versicolor, 3 virginica."""
    data = load_iris(as_frame=True)
    X = data.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    y = data.target.map(dict(enumerate(data.target_names))).rename("species")
    parts = []
    for name, n in [("setosa", 20), ("versicolor", 7), ("virginica", 3)]:
        parts.append(y[y == name].sample(n, random_state=random_state).index)
    idx = [i for p in parts for i in p]
    return X.loc[idx].reset_index(drop=True), y.loc[idx].reset_index(drop=True)


DESCRIPTIONS = {
    "sepal_length": "sepal length in cm",
    "sepal_width": "sepal width in cm",
    "petal_length": "petal length in cm",
    "petal_width": "petal width in cm",
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from skteam import TeamTrimSampler

    X, y = demo_data()
    counts = {str(k): int(v) for k, v in y.value_counts().items()}
    print(f"Training table: {len(X)} rows; class counts {counts}")
    sampler = TeamTrimSampler(
        model=args.model,
        feature_descriptions=DESCRIPTIONS,
        dataset_description=("Iris flowers measured in cm; species is the "
                             "flower's species."),
        sampling_strategy={"versicolor": 10, "virginica": 10},
        random_state=args.seed,
    )
    start = time.perf_counter()
    X_res, y_res = sampler.fit_resample(X, y)
    seconds = time.perf_counter() - start
    new = X_res[sampler.synthetic_mask_].assign(species=y_res[sampler.synthetic_mask_])
    with pd.option_context("display.width", 120, "display.max_rows", 50):
        print("\nPlan:", sampler.plan_)
        print("\nGenerated rows:")
        print(new.to_string())
        cols = ["class", "n_generated", "dropped_sanity", "dropped_cost",
                "dropped_diversity", "dropped_quota", "kept", "filled", "verdict"]
        print("\nQC report:")
        print(sampler.qc_report_[cols].to_string())
    print("\nGeneration stats:", sampler.generation_stats_)
    print(f"\nDone in {seconds:.1f} s.")


if __name__ == "__main__":
    main()
