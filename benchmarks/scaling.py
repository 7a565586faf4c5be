"""How skteam's generation time and memory grow with rows, features and classes.

Synthetic tables from ``sklearn.datasets.make_classification`` (200
training rows, class weights decreasing 2:1:…, every fourth column binned
into three categories ``low``/``mid``/``high``, numbers rounded to 2
decimals) are over-sampled by ``TeamTrimSampler(qc=())`` with a plan fixed
before the fit, so only generation is timed: ``--plan data`` (default) the
data-aware plan skteam uses for a wide table
(:func:`skteam.team.data_plan.data_plan`: at most 8 features per role,
edges from feature association), given to the sampler as a user plan so the
task manager's call is not timed; ``--plan chain`` the plan of the earlier
runs (``min(4, ceil(features / 5))`` roles of consecutive columns, chained:
role ``i`` is a parent of role ``i + 1``). Three one-factor sweeps around
(20 rows, 10 features, 2 classes):

- rows requested: ``--rows`` (20 40 80);
- features: ``--features`` (5 10 20 40 80 120);
- classes: ``--classes`` (2 3 5).

Rows are spread evenly over the classes. The sampler generates whole chunks
(``GenerationTuning.rows_per_chunk`` rows per class, at most ``max_batches``), so
``rows_generated`` can exceed the rows requested; both are reported.

Context window (no generation): for feature counts up to ``--max-features``
the script builds the worker and label prompts the sampler would build
(``skteam.team.prompts`` with 8 real example rows, the longest of the
table, 5 rows per prompt) and counts their tokens plus the answer budget
(``max_tokens_for``), finds the largest table whose every prompt fits the
model's context (with 8 examples and with 1). It also finds, by running
``TeamTrimSampler.fit_resample`` up to its first generation, the largest
table the sampler starts on without a warning and the largest it starts on
at all (its own check bounds the example rows from above, so it gives up a
little earlier), and records what it does at each probe: a clear error,
fewer examples with a warning, or a failure inside generation. Those runs
stop at the first ``generate`` call (a backend proxy raises there), so
nothing is generated.

Tokens per generated row (``--tokens``, no model weights): the
grammar-only test double ``test::uniform`` (the bundled model's tokenizer)
stands in for the model while :class:`~skteam.team.generation.TeamGenerator`
writes 60 rows of the minority class (default tuning, 8 examples, no label
worker) of COMPAS (200 rows; its fixed three-role chain of
``benchmarks/perf.py`` and its data-aware plan) and of wide numeric tables
(30 rows, 6 minority, 80 and 120 columns; data-aware plans). Per generated
row: the tokens of every worker prompt, the prompt tokens the backend
computes (a call's shared prefix once), and the answer tokens (sampled and
forced). Only the prompts matter, so the counts are those of the real model;
run it with the code before a change on ``PYTHONPATH`` to compare
(``--tokens-label``).

Writes ``benchmarks/results/scaling.csv`` (one row per run, rewritten after
each; ``sweep`` says which; the base point is measured once and listed in
every sweep), ``scaling_context.csv``, ``scaling.png`` and, with
``--tokens``, ``scaling_tokens.csv`` (rows added under their label).

Usage: ``python benchmarks/scaling.py [--rows 20 40 80] [--features 5 10 20
40 80 120] [--classes 2 3 5] [--plan data] [--max-features 400] [--model
embedded] [--seed 0] [--threads N] [--quick] [--tokens [--tokens-label
after]]``
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

sys.path.insert(0, str(Path(__file__).parent))
import perf  # noqa: E402  (same folder: measurement helpers)

import skteam.testing  # noqa: E402, F401  (registers --model test::uniform)
from skteam import TeamTrimSampler  # noqa: E402
from skteam.llm import get_backend  # noqa: E402
from skteam.schema import Schema  # noqa: E402
from skteam.team import ExamplePool, load_plan, prompts  # noqa: E402
from skteam.team.context import fit_examples  # noqa: E402
from skteam.team.data_plan import data_plan  # noqa: E402
from skteam.team.generation import GenerationTuning, TeamGenerator  # noqa: E402
from skteam.team.labeler import class_texts  # noqa: E402
from skteam.team.workers import max_tokens_for  # noqa: E402

try:  # the columns a worker prompt shows (absent before workers saw parents only)
    from skteam.team.workers import shown_upstream  # noqa: E402
except ImportError:  # pragma: no cover  (measuring the code before the change)
    def shown_upstream(plan, role_name):
        return plan.upstream_features(role_name)

RESULTS = Path(__file__).parent / "results"
DESCRIPTION = "A synthetic table; every row is one case, the label is its class."
N_EXAMPLES = 8
ROWS_PER_PROMPT = GenerationTuning().rows_per_prompt


def make_table(n_features, n_classes, seed, n_train=200):
    """A table of ``n_features`` columns, every fourth one categorical."""
    weights = np.array([2.0 ** -i for i in range(n_classes)])
    X, y = make_classification(
        n_samples=n_train, n_features=n_features,
        n_informative=min(n_features, max(2, math.ceil(math.log2(n_classes)),
                                          min(2 * n_classes, n_features // 2 + 1))),
        n_redundant=0, n_repeated=0, n_classes=n_classes, n_clusters_per_class=1,
        weights=list(weights / weights.sum()), random_state=seed)
    cols = {}
    for j in range(n_features):
        if j % 4 == 3:
            cuts = np.quantile(X[:, j], [1 / 3, 2 / 3])
            level = np.digitize(X[:, j], cuts)
            cols[f"cat{j}"] = np.array(["low", "mid", "high"])[level]
        else:
            cols[f"num{j}"] = np.round(X[:, j], 2)
    return pd.DataFrame(cols), pd.Series(y, name="label")


def chain_plan(columns):
    """``min(4, ceil(F / 5))`` roles of consecutive columns, chained."""
    n_roles = min(4, math.ceil(len(columns) / 5))
    parts = np.array_split(np.array(columns, dtype=object), n_roles)
    roles = [{"name": f"Expert {i + 1}", "features": list(p)}
             for i, p in enumerate(parts)]
    edges = [[roles[i]["name"], roles[i + 1]["name"]] for i in range(n_roles - 1)]
    return {"roles": roles, "edges": edges}


def plan_for(kind, X, y, description=DESCRIPTION):
    """The plan of a run: ``"data"`` (skteam's data-aware plan) or ``"chain"``."""
    if kind == "chain":
        return chain_plan(list(X.columns))
    schema = Schema.infer(X, np.asarray(y), dataset_description=description)
    plan = data_plan(schema, X, np.asarray(y)).to_dict()
    return {"roles": plan["roles"], "edges": plan["edges"]}


# -- context window ----------------------------------------------------------------
def prompt_lengths(backend, X, y, n_examples=N_EXAMPLES, k=ROWS_PER_PROMPT,
                   plan_kind="data"):
    """Longest worker and label prompt (tokens, answer budget included)."""
    schema = Schema.infer(X, np.asarray(y), dataset_description=DESCRIPTION)
    plan = load_plan(plan_for(plan_kind, X, y), schema)
    pool = ExamplePool(schema, X, np.asarray(y))
    count = backend.count_tokens

    def longest(lines, n):
        return sorted(lines, key=len, reverse=True)[:n]

    worker = 0
    for role in plan.roles:
        specs = [schema[f] for f in role.features]
        parents = shown_upstream(plan, role.name)  # what the worker is shown
        parent_specs = [schema[f] for f in parents]
        for target in schema.classes:
            rows = pool.by_class[target]
            pairs = [(pool.line(parents, j), pool.line(role.features, j)) for j in rows]
            pairs = sorted(pairs, key=lambda p: len(p[0]) + len(p[1]),
                           reverse=True)[:n_examples]
            user = prompts.worker_user(schema, role.name, specs, parent_specs, target,
                                       pairs, k)
            text = backend.chat_prompt(prompts.WORKER_SYSTEM, user)
            prefix = (pool.line(parents, rows[0]) + prompts.ARROW) if parents else ""
            budget = k * (max_tokens_for(specs, count) + count(prefix))
            worker = max(worker, count(text) + budget)
    names = schema.names
    lines = [(pool.line(names, j), prompts._one_line(pool.y[j]))
             for j in range(len(pool.y))]
    ex = sorted(lines, key=lambda p: len(p[0]), reverse=True)[:n_examples]
    text = backend.chat_prompt(prompts.LABELER_SYSTEM, prompts.labeler_user(schema, ex))
    options = class_texts(schema)
    row = max_tokens_for(list(schema.features), count) + count(prompts.ARROW)
    label = count(text) + k * (row + max(count(o) for o in options) + 2)
    return worker, label


class _StopBeforeGeneration(Exception):
    pass


class _NoGenerate:
    """A backend proxy whose ``generate`` stops the fit (nothing is generated)."""

    def __init__(self, backend):
        self._backend = backend

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def chat_prompt(self, *a, **k):
        return self._backend.chat_prompt(*a, **k)

    def generate(self, *a, **k):
        raise _StopBeforeGeneration


def what_happens(backend, X, y, seed, labeling="worker", plan_kind="data"):
    """What ``fit_resample`` does with this table, up to its first generation."""
    sampler = TeamTrimSampler(model=_NoGenerate(backend), qc=(),
                              plan=plan_for(plan_kind, X, y), verbose=0,
                              random_state=seed, dataset_description=DESCRIPTION,
                              labeling=labeling)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sampler.fit_resample(X, y)
            outcome = "returned without generating"
        except _StopBeforeGeneration:
            outcome = "starts generating"
        except Exception as exc:  # noqa: BLE001  (recorded, not hidden)
            return f"raises {type(exc).__name__}: {exc}"
    warned = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return outcome + (f" after warning: {warned[0]}" if warned else "")


def _largest(ok, lo, top):
    """Largest ``f`` in ``[lo, top]`` with ``ok(f)`` (``ok`` monotone); 0 if none."""
    if not ok(lo):
        return 0
    hi = lo
    while hi < top and ok(min(hi * 2, top)):
        hi = min(hi * 2, top)
    if hi >= top:
        return top
    bad = min(hi * 2, top)
    while bad - hi > 1:
        mid = (hi + bad) // 2
        hi, bad = (mid, bad) if ok(mid) else (hi, mid)
    return hi


def context_study(backend, seed, n_classes, max_features, labeling="worker",
                  plan_kind="data"):
    """Largest feature counts: prompts that fit (8 and 1 examples), and the
    largest tables the sampler starts on without a warning and at all (with
    ``labeling="target"`` no label worker prompt is sent, so only the
    worker prompts bound the sampler)."""
    context = backend.context_length
    cache = {}

    def lengths(f, n_ex):
        if (f, n_ex) not in cache:
            X, y = make_table(f, n_classes, seed)
            cache[(f, n_ex)] = prompt_lengths(backend, X, y, n_examples=n_ex,
                                              plan_kind=plan_kind)
        return cache[(f, n_ex)]

    def fits(f, n_ex):
        return max(lengths(f, n_ex)) <= context

    outcomes = {}

    def outcome(f):
        if f not in outcomes:
            X, y = make_table(f, n_classes, seed)
            outcomes[f] = what_happens(backend, X, y, seed, labeling, plan_kind)
        return outcomes[f]

    lo = max(1, math.ceil(math.log2(n_classes)))  # smallest table
    f8 = _largest(lambda f: fits(f, N_EXAMPLES), lo, max_features)
    f1 = _largest(lambda f: fits(f, 1), lo, max_features)
    # what the sampler itself does (its check bounds example rows from above)
    quiet = _largest(lambda f: outcome(f) == "starts generating", lo, max_features)
    runs = _largest(lambda f: outcome(f).startswith("starts generating"), lo,
                    max_features)
    rows = []
    probes = {5, 10, 20, 40, 60, 80, 100, 150, 200, f8, f8 + 1, f1, f1 + 1,
              quiet, quiet + 1, runs, runs + 1}
    probes = sorted(probes & set(range(1, max_features + 1)))
    for f in probes:
        worker, label = lengths(f, N_EXAMPLES)
        rows.append({
            "features": f, "classes": n_classes, "context_length": context,
            "worker_prompt_tokens": worker, "label_prompt_tokens": label,
            "fits_with_8_examples": max(worker, label) <= context,
            "fits_with_1_example": max(lengths(f, 1)) <= context,
            "largest_features_8_examples": f8, "largest_features_1_example": f1,
            "largest_features_sampler_no_warning": quiet,
            "largest_features_sampler_runs": runs,
            "sampler_outcome": outcome(f)[:400], "labeling": labeling,
            "plan": plan_kind,
        })
        print({k: rows[-1][k] for k in ("features", "worker_prompt_tokens",
                                        "label_prompt_tokens", "sampler_outcome")},
              flush=True)
    return rows


# -- timed runs ------------------------------------------------------------------------
def timed_run(model, n_rows, n_features, n_classes, seed, rows_per_chunk,
              plan_kind="data"):
    X, y = make_table(n_features, n_classes, seed)
    context = {"feature_descriptions": None, "dataset_description": DESCRIPTION}
    plan = plan_for(plan_kind, X, y)
    out, schema = perf.run_skteam(model, X, y, context, plan, n_rows, seed,
                                  rows_per_chunk=rows_per_chunk)
    plan_obj = load_plan(plan, schema)
    out.update(rows=n_rows, features=n_features, classes=n_classes, plan=plan_kind,
               plan_levels=len(plan_obj.levels()),
               largest_worker_view=max(len(r.features)
                                       + len(shown_upstream(plan_obj, r.name))
                                       for r in plan_obj.roles),
               seconds_per_generated_row=perf._ratio(out["seconds"],
                                                     out["rows_generated"]))
    return out


# -- tokens per generated row ----------------------------------------------------------
class _PromptTally:
    """A backend proxy that adds up the tokens of every prompt it is sent."""

    def __init__(self, backend):
        self._backend = backend
        self.prompt_tokens = 0

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def chat_prompt(self, *a, **k):
        return self._backend.chat_prompt(*a, **k)

    def generate(self, prompts_, *a, **k):
        self.prompt_tokens += sum(self._backend.count_tokens(p) for p in prompts_)
        return self._backend.generate(prompts_, *a, **k)


def wide_numeric_table(n_features, n_rows=30, n_minority=6, seed=0):
    """``n_features`` numeric columns (2 decimals); ``n_minority`` rows of class 1."""
    X, y = make_classification(
        n_samples=n_rows, n_features=n_features, n_informative=min(10, n_features),
        n_redundant=0, weights=[1 - n_minority / n_rows], flip_y=0,
        random_state=seed)
    X = pd.DataFrame(np.round(X, 2), columns=[f"x{i}" for i in range(n_features)])
    y = pd.Series(y, name="label")
    # exactly n_minority rows of class 1
    order = np.argsort(-y.to_numpy(), kind="stable")
    y = pd.Series(np.where(np.isin(np.arange(n_rows), order[:n_minority]), 1, 0),
                  name="label")
    return X, y


def token_tables(seed=0):
    """``(name, plan name, X, y, context, plan dict)`` of the token study."""
    out = []
    X, y, context = perf.load_dataset("compas", 200, seed)
    schema = Schema.infer(X, np.asarray(y), dataset_description=context[
        "dataset_description"], descriptions=context["feature_descriptions"])
    out.append(("compas", "fixed chain (3 roles)", X, y, context,
                perf.FIXED_PLANS["compas"]))
    dp = data_plan(schema, X, np.asarray(y)).to_dict()
    out.append(("compas", "data", X, y, context,
                {"roles": dp["roles"], "edges": dp["edges"]}))
    for n_features in (80, 120):
        X, y = wide_numeric_table(n_features, seed=seed)
        context = {"feature_descriptions": None, "dataset_description": DESCRIPTION}
        out.append((f"wide numeric ({n_features} columns, 30 rows)", "data", X, y,
                    context, plan_for("data", X, y)))
    return out


def tokens_per_row(label, seed=0, n_rows=60):
    """Prompt and answer tokens per generated row (``test::uniform``, see above)."""
    records = []
    for name, plan_name, X, y, context, plan_dict in token_tables(seed):
        backend = _PromptTally(get_backend("test::uniform"))
        schema = Schema.infer(X, np.asarray(y), descriptions=context[
            "feature_descriptions"], dataset_description=context["dataset_description"])
        plan = load_plan(plan_dict, schema)
        pool = ExamplePool(schema, X, np.asarray(y))
        target = min(schema.classes, key=lambda c: int((np.asarray(y) == c).sum()))
        batch_size = 10
        record = {"code": label, "table": name, "plan": plan_name,
                  "features": len(schema.names), "roles": len(plan.roles)}
        try:  # the example count the sampler would use (fewer where the context binds)
            fit = fit_examples(backend, schema, plan, pool, [target],
                               n_examples=N_EXAMPLES, n_label_examples=0,
                               rows_per_prompt=ROWS_PER_PROMPT)
        except ValueError as exc:  # the sampler refuses the table
            records.append({**record, "n_examples": 0,
                            "refused": str(exc).split(" The longest")[0]})
            print(records[-1], flush=True)
            continue
        generator = TeamGenerator(
            backend, schema, plan, pool, batch_size=batch_size, seed=seed,
            n_examples=fit.n_examples, n_label_examples=0, labeling="target",
            temperature=0.8)
        generator(target, 0, n_rows // batch_size)
        usage = generator.usage
        records.append({
            **record, "n_examples": fit.n_examples,
            "rows_generated": generator.rows_generated,
            "prompt_tokens_per_row": round(
                backend.prompt_tokens / generator.rows_generated, 1),
            "computed_prompt_tokens_per_row": round(
                usage.input_tokens / generator.rows_generated, 1),
            "answer_tokens_per_row": round(
                (usage.output_tokens + usage.forced_tokens)
                / generator.rows_generated, 1),
            "prompts": usage.prompts, "calls": usage.calls,
        })
        print(records[-1], flush=True)
    return records


def plot(df, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweeps = [s for s in ("rows", "features", "classes") if (df["sweep"] == s).any()]
    fig, axes = plt.subplots(2, len(sweeps), figsize=(max(6.5, 4 * len(sweeps)), 6.5),
                             squeeze=False)
    for col, x in enumerate(sweeps):  # a sweep's x axis is its own column
        part = df[df["sweep"] == x].sort_values(x)
        ax = axes[0, col]
        ax.plot(part[x], part["seconds"], "o-", label="seconds (fit)")
        ax.plot(part[x], part["seconds_per_generated_row"] * 100, "s--",
                label="seconds per 100 generated rows")
        ax.set(xlabel=x, ylabel="seconds", title=f"time vs {x}")
        ax.legend(fontsize=8)
        ax = axes[1, col]
        ax.plot(part[x], part["peak_rss_mib"], "o-", label="peak RSS")
        ax.plot(part[x], part["rss_delta_mib"], "s--", label="peak RSS - RSS at start")
        ax.set(xlabel=x, ylabel="MiB", title=f"memory vs {x}")
        ax.legend(fontsize=8)
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    fig.suptitle(f"skteam generation (qc=()), {df['cpu'].iloc[0]}, "
                 f"{int(df['torch_threads'].iloc[0])} threads", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, nargs="*", default=[20, 40, 80])
    p.add_argument("--features", type=int, nargs="*",
                   default=[5, 10, 20, 40, 80, 120])
    p.add_argument("--classes", type=int, nargs="*", default=[2, 3, 5])
    p.add_argument("--base", type=int, nargs=3, default=[20, 10, 2],
                   metavar=("ROWS", "FEATURES", "CLASSES"),
                   help="the fixed values of the factors not swept")
    p.add_argument("--rows-per-chunk", type=int, default=None,
                   help="override rows_per_chunk (default: the library's)")
    p.add_argument("--plan", choices=["data", "chain"], default="data",
                   help="the plan of every run (see the module docstring)")
    p.add_argument("--tokens", action="store_true",
                   help="only count tokens per generated row (test::uniform)")
    p.add_argument("--tokens-label", default="after",
                   help="the 'code' column of the token rows (e.g. before)")
    p.add_argument("--max-features", type=int, default=400)
    p.add_argument("--no-context", action="store_true")
    p.add_argument("--labeling", choices=["worker", "target"], default=None,
                   help="labeling of the sampler in the context study (default: "
                        "what labeling='auto' picks for --model)")
    p.add_argument("--model", default="embedded")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true",
                   help="10 rows; features 5 and 10; 2 classes; 10 rows per chunk")
    p.add_argument("--out", default=str(RESULTS / "scaling.csv"))
    args = p.parse_args(argv)
    if args.quick:
        args.rows, args.features, args.classes = [], [5, 10], []
        args.base = [10, 10, 2]
        args.rows_per_chunk = args.rows_per_chunk or 10
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.tokens:
        path = Path(args.out).with_name("scaling_tokens.csv")
        new = pd.DataFrame(tokens_per_row(args.tokens_label, args.seed))
        if path.exists():  # other labels' rows are kept
            old = pd.read_csv(path)
            new = pd.concat([old[old["code"] != args.tokens_label], new])
        new.to_csv(path, index=False)
        print(f"wrote {path}")
        return
    hw = perf.hardware()
    t0 = time.perf_counter()
    backend = get_backend(args.model)
    backend.generate([backend.chat_prompt("Hi", "Say hi")], ['start: "hi"'],
                     seeds=[0], max_new_tokens=4)  # warm-up
    chunk = args.rows_per_chunk or perf.DEFAULT_TUNING.rows_per_chunk
    common = {"model": args.model, "seed": args.seed, "device": backend.device,
              "dtype": backend.dtype, "rows_per_chunk": chunk, **hw}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    if not args.no_context:
        labeling = args.labeling or ("target" if args.model == "embedded"
                                     else "worker")
        ctx = context_study(backend, args.seed, args.base[2], args.max_features,
                            labeling, args.plan)
        ctx_path = out.with_name(out.stem + "_context.csv")
        pd.DataFrame([{**r, **common} for r in ctx]).to_csv(ctx_path, index=False)
        print(f"wrote {ctx_path}")

    rows0, feats0, classes0 = args.base
    runs = ([("rows", r, feats0, classes0) for r in args.rows]
            + [("features", rows0, f, classes0) for f in args.features]
            + [("classes", rows0, feats0, c) for c in args.classes])
    records, done = [], {}
    for sweep, n_rows, n_feat, n_cls in runs:
        key = (n_rows, n_feat, n_cls)
        if key in done:  # the base point belongs to every sweep: measured once
            row = {**done[key], "sweep": sweep}
        else:
            row = timed_run(args.model, n_rows, n_feat, n_cls, args.seed,
                            args.rows_per_chunk, args.plan)
            row = {"sweep": sweep, **row, **common}
            done[key] = row
        records.append(row)
        print({k: row[k] for k in ("sweep", "rows", "features", "classes",
                                   "rows_generated", "seconds", "valid_rows_per_s",
                                   "output_tokens_per_cell", "peak_rss_mib",
                                   "rss_delta_mib")}, flush=True)
        # written after every run, so a long sweep that is stopped keeps its rows
        pd.DataFrame(records).to_csv(out, index=False)
    if records:
        df = pd.DataFrame(records)
        print(f"wrote {out}")
        png = out.with_suffix(".png")
        plot(df, png)
        print(f"wrote {png}")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
