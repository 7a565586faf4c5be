"""imbalanced-learn's conformance checks on the default sampler, timed.

Runs the checks that ``tests/test_estimator_checks.py`` parametrizes with
``parametrize_with_checks([TeamTrimSampler(random_state=0)])`` in one
process, one after another, and writes a row per check as soon as it ends:
outcome, seconds, and how many raw batches the process-wide stream cache
holds by then (a check that adds none read every batch back from an earlier
check on the same table).

The checks on imblearn's 1000 x 20 table need three generations: the float64
array (shared by the fit/resample, strategy, list, one-vs-all, indices and 2-D
target checks), the DataFrame with columns ``"0"`` .. ``"19"`` (pandas and
sparse pandas) and the float32 array (dtype check). ``--order cache`` (the
default) runs the checks grouped that way, so that an interrupted run has
passed as many checks as its generations allow; ``--order imblearn`` keeps
imblearn's order.

``--cache-dir`` keeps the raw batches on disk (the sampler's ``cache_dir``;
raw generation does not depend on it), so a run that is stopped resumes where
it stopped.

Writes ``benchmarks/results/conformance_default_model.csv``.

Usage: ``python benchmarks/conformance.py [--model embedded] [--order cache]
[--only CHECK ...] [--skip-small] [--cache-dir DIR] [--out CSV]``.
"""

from __future__ import annotations

import argparse
import time
import traceback
from pathlib import Path

import _harness as H
import pandas as pd
import torch
from imblearn.utils.estimator_checks import estimator_checks_generator

import skteam.testing  # noqa: F401  (registers --model test::uniform)
from skteam import TeamTrimSampler
from skteam.cache import _STREAMS

RESULTS = Path(__file__).resolve().parent / "results"

# Checks on 30-row tables (the default test run has them too).
SMALL = ("check_target_type", "check_samplers_one_label", "check_samplers_fit",
         "check_samplers_string", "check_sampler_get_feature_names_out",
         "check_sampler_get_feature_names_out_pandas")
# The 1000 x 20 checks, grouped by the table they generate for.
CACHE_ORDER = (
    "check_samplers_fit_resample", "check_samplers_sampling_strategy_fit_resample",
    "check_samplers_list", "check_samplers_multiclass_ova",
    "check_samplers_sample_indices", "check_samplers_2d_target",
    "check_samplers_pandas", "check_samplers_pandas_sparse",
    "check_samplers_preserve_dtype",
)


def check_name(check) -> str:
    func = getattr(check, "func", check)
    return getattr(func, "__name__", str(func))


def cached_batches() -> int:
    return sum(len(stream.batches) for stream in _STREAMS.values())


def ordered_checks(estimator, order: str, only=None, skip_small=False):
    checks = [(est, check) for est, check in
              estimator_checks_generator(estimator, legacy=True)]
    if order == "cache":
        rank = {name: i for i, name in enumerate(CACHE_ORDER + SMALL)}
        checks.sort(key=lambda pair: rank.get(check_name(pair[1]), len(rank)))
    if only:
        checks = [pair for pair in checks if check_name(pair[1]) in only]
    if skip_small:
        checks = [pair for pair in checks if check_name(pair[1]) not in SMALL]
    return checks


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="embedded")
    p.add_argument("--order", choices=("cache", "imblearn"), default="cache")
    p.add_argument("--only", nargs="+", default=None, metavar="CHECK")
    p.add_argument("--skip-small", action="store_true",
                   help="leave out the 30-row checks (the default test run has them)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="on-disk raw-batch cache: a stopped run resumes from it")
    p.add_argument("--out", type=Path,
                   default=RESULTS / "conformance_default_model.csv")
    args = p.parse_args(argv)

    estimator = TeamTrimSampler(model=args.model, random_state=0,
                                cache_dir=args.cache_dir)
    checks = ordered_checks(estimator, args.order, args.only, args.skip_small)
    context = {"model": args.model, "random_state": 0, "order": args.order,
               "cache_dir": args.cache_dir is not None,
               "cpu": H.cpu_name(),
               "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
               "device": "cuda" if torch.cuda.is_available() else "cpu"}
    rows = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i, (est, check) in enumerate(checks, 1):
        name = check_name(check)
        print(f"[{i}/{len(checks)}] {name} ...", flush=True)
        t0 = time.perf_counter()
        try:
            check(est)
            outcome, error = "passed", ""
        except Exception as exc:  # a check's failure is a result to record
            outcome = "skipped" if type(exc).__name__ == "SkipTest" else "failed"
            error = f"{type(exc).__name__}: {exc}"[:500]
            if outcome == "failed":
                traceback.print_exc()
        seconds = time.perf_counter() - t0
        rows.append({"check": name, "outcome": outcome,
                     "seconds": round(seconds, 1),
                     "elapsed_seconds": round(time.perf_counter() - start, 1),
                     "cached_batches_after": cached_batches(), "error": error,
                     **context})
        # written after every check: an interrupted run keeps what it measured
        pd.DataFrame(rows).to_csv(args.out, index=False)
        print(f"    {outcome} in {seconds:.0f} s ({cached_batches()} batches cached)",
              flush=True)
    table = pd.DataFrame(rows)
    print(table[["check", "outcome", "seconds", "cached_batches_after"]]
          .to_string(index=False))
    print(f"wrote {args.out}")
    return 0 if (table["outcome"] != "failed").all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
