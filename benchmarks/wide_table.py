"""Time of one ``fit_resample`` on a wide table with default parameters.

The table: 80 numeric columns (``make_classification``, 10 informative,
rounded to 2 decimals), 30 rows of which 6 are of the minority class, so
the default ``sampling_strategy`` asks for 18 new rows. The sampler is
``TeamTrimSampler(random_state=SEED)`` with every other parameter at its
default: the bundled model, the task manager's plan (or the data-aware plan
that replaces a degenerate one), all three QC stages, ``on_shortfall="fill"``.

The model is loaded (and warmed up with one tiny call) before the clock
starts; the load time is printed apart. Prints the seconds of
``fit_resample``, the plan used and the generation figures, and appends a
row to ``benchmarks/results/wide_table.csv``. With ``--profile FILE`` the
fit runs under :mod:`cProfile` and its statistics are written to ``FILE``
(the slowest functions are printed).

Usage: ``python benchmarks/wide_table.py [--features 80] [--rows 30]
[--minority 6] [--seed 0] [--model embedded] [--profile FILE]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import _harness as H  # noqa: E402  (same folder)
from scaling import wide_numeric_table  # noqa: E402

from skteam import TeamTrimSampler  # noqa: E402
from skteam.cache import clear_streams  # noqa: E402
from skteam.llm import get_backend  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", type=int, default=80)
    p.add_argument("--rows", type=int, default=30)
    p.add_argument("--minority", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default="embedded")
    p.add_argument("--profile", default=None, help="write cProfile stats here")
    p.add_argument("--out", default=str(RESULTS / "wide_table.csv"))
    args = p.parse_args(argv)

    X, y = wide_numeric_table(args.features, args.rows, args.minority, args.seed)
    t0 = time.perf_counter()
    backend = get_backend(args.model)
    backend.generate([backend.chat_prompt("Hi", "Say hi")], ['start: "hi"'],
                     seeds=[0], max_new_tokens=4)  # warm-up
    load = time.perf_counter() - t0
    print(f"model loaded in {load:.1f} s; cpu: {H.cpu_model()}", flush=True)
    clear_streams()
    sampler = TeamTrimSampler(model=args.model, random_state=args.seed)
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        X_res, y_res = sampler.fit_resample(X, y)
        if profiler is not None:
            profiler.disable()
        seconds = time.perf_counter() - start
    stats = sampler.generation_stats_
    plan = sampler.plan_
    new = int(sampler.synthetic_mask_.sum())
    print(f"fit_resample: {seconds:.1f} s for {new} new rows "
          f"({X.shape[1]} columns, {len(X)} rows, {args.minority} minority)")
    print(f"plan ({plan['source']}): {len(plan['roles'])} roles of "
          f"{[len(r['features']) for r in plan['roles']]} features, "
          f"{len(plan['edges'])} edges")
    print({k: stats.get(k) for k in ("rows_generated", "batches", "llm_seconds",
                                     "input_tokens", "output_tokens", "forced_tokens",
                                     "filled_rows", "n_examples_used")})
    for w in caught:
        print(f"warning: {str(w.message)[:200]}")
    with open("/proc/loadavg") as fh:
        load_avg = fh.read().split()[0]
    row = {"date": time.strftime("%Y-%m-%d %H:%M"), "features": X.shape[1],
           "rows": len(X), "minority": args.minority, "new_rows": new,
           "seconds": round(seconds, 1), "load_seconds": round(load, 1),
           "rows_generated": stats.get("rows_generated"),
           "llm_seconds": stats.get("llm_seconds"),
           "input_tokens": stats.get("input_tokens"),
           "output_tokens": stats.get("output_tokens"),
           "forced_tokens": stats.get("forced_tokens"),
           "plan_source": plan["source"], "roles": len(plan["roles"]),
           "model": args.model, "seed": args.seed, "cpu": H.cpu_model(),
           "loadavg_at_end": load_avg}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    old = pd.read_csv(out) if out.exists() else None
    df = pd.DataFrame([row]) if old is None else pd.concat([old, pd.DataFrame([row])])
    df.to_csv(out, index=False)
    print(f"wrote {out}")
    if profiler is not None:
        import pstats

        profiler.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
