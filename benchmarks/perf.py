"""Generation speed: skteam against the paper's way of calling the model (issue 7).

In one process, on one loaded model (load time excluded from every figure)
and on the same training rows, the script measures for COMPAS and Diabetes:

``skteam``
    ``TeamTrimSampler(qc=(), plan=<the plan>)``: only generation (role
    workers level by level, then the label worker) is timed. The plan comes
    is :data:`FIXED_PLANS` (three roles chained as in T²'s Table 8), or with
    ``--plan manager`` one task-manager call made before the timed runs (its
    time is the ``plan_seconds`` column); both pipelines use that plan.
``naive``
    The paper's pipeline taken literally (T², §2.1 and Table 8): for every
    batch of ``--naive-batch`` rows, each worker role, in plan order, is one
    separate free-form call (``model.generate`` with sampling, chat
    template) whose prompt shows the role's features, real rows of the
    target class and the values the earlier roles wrote, all as JSON, and
    asks for the whole batch as a JSON list of objects (the answer is
    started with ``[``, nothing else is constrained); then a label worker
    call asks for a JSON list of labels. An answer is parsed after the call;
    an answer that does not parse is asked again (at most ``--naive-tries``
    times, then the batch counts as failed). Rows are checked against the
    schema (``skteam.schema``: types, ranges, integers, categories) and only
    valid rows count.
``raw generate``
    ``model.generate`` alone, greedy, unconstrained, with exactly as many
    new tokens per sequence and as many sequences per call as skteam used
    on average in the ``skteam`` run (real worker prompts, left padded):
    the throughput ceiling of the model on this machine without skteam's
    own code (grammar masks, per-row sampling, bookkeeping) and without its
    shared-prefix reuse.

Then, on the first dataset, a sweep of skteam's generation batch: rows per
chunk (``GenerationTuning.rows_per_chunk``: rows generated in one go per class, the
``--batch-sizes``) × rows per prompt (``rows_per_prompt``, with
``min_prompts_per_call = 1`` so that it is used as given). The forward batch
of a call is ``rows per chunk / rows per prompt`` sequences for each role of
a plan level. The module constants are overridden for the run and restored.

With ``--dtype-check``, ``backend.generate`` is timed in float32 and
bfloat16 on worker prompts of the first dataset at forward batches 32 and 64.

With ``--compare-dtypes float32 auto`` (any of ``float32``, ``bfloat16``,
``auto``) only the ``skteam`` run of the first dataset is made, the dtypes
taking turns in the same process for ``--dtype-reps`` rounds (model spec
``"<model>?dtype=<dtype>"``, labels as the embedded model's default,
``labeling="target"``); the median rows/s of each and its ratio to the
first's are printed with the CPU model, its bf16 flags and what
``dtype="auto"`` resolved to and why (:func:`skteam.llm.hf.choose_dtype`),
and written to ``results/perf_dtypes.csv``.

With ``--forward-check`` only the model's own forward passes are timed, in
float32 and bfloat16 taking turns: prompt processing and decode steps at
the ``--forward-cases`` (``batch:prompt tokens``, default ``10:400 60:128``),
written to ``results/perf_dtype_forward.csv``. ``--checkpoint-dir DIR``
writes the bundled model as a checkpoint directory there (as the tests'
fixture does) and uses it as the model.

Columns of ``benchmarks/results/perf.csv`` are described in
``benchmarks/README.md``; ``perf_throughput.png`` plots the sweep.

Usage: ``python benchmarks/perf.py [--datasets compas diabetes] [--rows 120]
[--naive-rows 20] [--batch-sizes 10 20 40 60 120] [--rows-per-prompt 1 5]
[--train 200] [--model embedded] [--seed 0] [--plan fixed|manager]
[--threads N] [--dtype-check] [--compare-dtypes float32 auto] [--dtype-reps 2]
[--forward-check [--forward-cases 10:400 60:128]] [--checkpoint-dir DIR] [--quick]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import threading
import time
import warnings
from pathlib import Path

import _harness as H
import numpy as np
import pandas as pd

from skteam import TeamTrimSampler
from skteam.cache import _STREAMS, clear_streams
from skteam.datasets import (
    COMPAS_DESCRIPTIONS,
    DIABETES_DESCRIPTIONS,
    TARGET_DESCRIPTIONS,
    load_compas,
    make_diabetes,
)
from skteam.llm import get_backend
from skteam.rowformat import row_grammar
from skteam.schema import Schema, parse_value
from skteam.team import ExamplePool, load_plan, plan_with_manager, prompts
from skteam.team.generation import GenerationTuning
from skteam.team.labeler import class_texts
from skteam.utils import derive_rng, derive_seed

RESULTS = Path(__file__).parent / "results"
MIB = 1024 * 1024


# -- data ----------------------------------------------------------------------
def load_dataset(name, n_train, seed):
    """Training rows and prompt context of a dataset."""
    if name == "compas":
        X, y = load_compas()
        idx = np.random.default_rng(seed).permutation(len(X))[:n_train]
        X, y = X.iloc[idx].reset_index(drop=True), y.iloc[idx].reset_index(drop=True)
        context = {
            "feature_descriptions": {k: v for k, v in COMPAS_DESCRIPTIONS.items()
                                     if k in X.columns},
            "dataset_description": ("One row is a criminal defendant; the label is "
                                    + TARGET_DESCRIPTIONS["two_year_recid"] + "."),
        }
    elif name == "diabetes":
        # the Table 8 setting of T²: Diabetes, imbalanced (7:2:1 risk groups)
        X, y = make_diabetes(n_train, class_ratio=(7, 2, 1), rounded=True,
                             random_state=seed)
        context = {
            "feature_descriptions": DIABETES_DESCRIPTIONS,
            "dataset_description": ("One row is a simulated adult patient; the label "
                                    "is the " + TARGET_DESCRIPTIONS["risk"] + "."),
        }
    else:
        raise ValueError(f"unknown dataset {name!r}; use compas or diabetes")
    return X, pd.Series(np.asarray(y), name=getattr(y, "name", "y")), context


# Fixed plans (``--plan fixed``, the default): three role workers and the
# label worker, as in T²'s Table 8 (four LLM workers), so that the comparison
# does not depend on what the task manager of a small model answers.
FIXED_PLANS = {
    "compas": {
        "roles": [
            {"name": "Demographics expert",
             "features": ["sex", "age", "age_cat_25-45", "age_cat_Greaterthan45",
                          "age_cat_Lessthan25", "race_African-American",
                          "race_Caucasian"]},
            {"name": "Juvenile record expert",
             "features": ["juv_fel_count", "juv_misd_count", "juv_other_count"]},
            {"name": "Criminal history expert",
             "features": ["priors_count", "c_charge_degree_F", "c_charge_degree_M"]},
        ],
        "edges": [["Demographics expert", "Juvenile record expert"],
                  ["Juvenile record expert", "Criminal history expert"]],
    },
    "diabetes": {
        "roles": [
            {"name": "Lifestyle expert",
             "features": ["Age", "BMI", "PhysicalActivity"]},
            {"name": "Metabolic expert",
             "features": ["HbA1c", "FastingGlucose", "Insulin"]},
            {"name": "Cardiovascular expert",
             "features": ["BloodPressure", "Cholesterol"]},
        ],
        "edges": [["Lifestyle expert", "Metabolic expert"],
                  ["Lifestyle expert", "Cardiovascular expert"]],
    },
}


def quotas_for(y, rows):
    """Spread ``rows`` new rows evenly over the classes (the sampler's dict)."""
    counts = y.value_counts()
    classes = sorted(counts.index, key=str)
    extra = {c: rows // len(classes) + (i < rows % len(classes))
             for i, c in enumerate(classes)}
    return {c: int(counts[c]) + extra[c] for c in classes}, extra


# -- measurement helpers -------------------------------------------------------
def _status_kib(field):
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakRSS:
    """Peak resident memory of this process during a block, in MiB.

    Linux: the kernel's high-water mark (VmHWM) is reset on entry through
    ``/proc/self/clear_refs`` and read on exit (torch's allocations
    included, which tracemalloc does not see). Elsewhere psutil is polled
    every 10 ms; without psutil, ``ru_maxrss`` (the process's peak so far).
    """

    def __enter__(self):
        self.start = (_status_kib("VmRSS") or 0) / 1024
        self.how = "VmHWM"
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            self.how = "psutil"
        self._stop = threading.Event()
        self._seen = 0.0
        if self.how == "psutil":
            try:
                import psutil
            except ImportError:
                self.how = "ru_maxrss"
            else:
                proc = psutil.Process()

                def poll():
                    while not self._stop.wait(0.01):
                        self._seen = max(self._seen, proc.memory_info().rss / MIB)

                self._thread = threading.Thread(target=poll, daemon=True)
                self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.how == "VmHWM":
            self.peak = (_status_kib("VmHWM") or 0) / 1024
        elif self.how == "psutil":
            self._stop.set()
            self._thread.join()
            self.peak = self._seen
        else:
            self.peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.delta = max(0.0, self.peak - self.start)
        return False


def tuned_sampler(rows_per_chunk=None, rows_per_prompt=None, min_prompts=None):
    """``TeamTrimSampler`` with its generation tuning set (None keeps a default)."""
    given = {"rows_per_chunk": rows_per_chunk, "rows_per_prompt": rows_per_prompt,
             "min_prompts_per_call": min_prompts}
    tuning = dataclasses.replace(DEFAULT_TUNING, **{
        k: v for k, v in given.items() if v is not None})

    class TunedSampler(TeamTrimSampler):
        _generation_tuning = tuning

    return TunedSampler


def validate(schema, rows, labels):
    """Number of rows (dicts of raw values) that are legal under ``schema``.

    A cell is read with ``skteam.schema.parse_value`` from its text (so 1,
    1.0 and "1" are the same integer), then ``Schema.check_frame`` checks
    ranges, integer-ness and categories; a label must be one of the classes.
    """
    names = schema.names
    parsed = []
    for row, label in zip(rows, labels):
        if label is None or not isinstance(row, dict):
            continue
        try:
            parsed.append([parse_value(schema[n], _text(row[n])) for n in names])
        except (KeyError, TypeError, ValueError):
            continue
    if not parsed:
        return 0
    masks = schema.check_frame(pd.DataFrame(parsed, columns=names))
    if not masks:
        return len(parsed)
    return int(np.logical_and.reduce(list(masks.values())).sum())


def _text(value):
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise ValueError("not a cell value")
    return str(value)


DEFAULT_TUNING = GenerationTuning()


# -- skteam --------------------------------------------------------------------
def run_skteam(model, X, y, context, plan, rows, seed, *, batch_size=10,
               rows_per_chunk=None, rows_per_prompt=None, min_prompts=None):
    """One ``fit_resample`` with ``qc=()``; figures of the generation."""
    sampling, _ = quotas_for(y, rows)
    clear_streams()  # every run generates; none reads another's batches
    sampler = tuned_sampler(rows_per_chunk, rows_per_prompt, min_prompts)(
        model=model, qc=(), plan=plan, batch_size=batch_size, random_state=seed,
        verbose=0, on_shortfall="warn", sampling_strategy=sampling, **context)
    with warnings.catch_warnings(), PeakRSS() as mem:
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        X_res, _ = sampler.fit_resample(X, y)
        seconds = time.perf_counter() - start
    stats = sampler.generation_stats_
    schema = sampler.schema_
    # every generated row of the fit (also those a full quota did not take)
    gen_rows, gen_labels = [], []
    for stream in list(_STREAMS.values()):
        for batch in stream.batches.values():
            gen_rows += [dict(zip(schema.names, r)) for r in batch.rows]
            gen_labels += list(batch.labels)
    valid = validate(schema, gen_rows, gen_labels)
    calls, prompts_n = stats["llm_calls"], stats["prompts"]
    model_tokens = stats["output_tokens"] + stats["forced_tokens"]
    out = {
        "rows_requested": rows,
        "rows_generated": stats["rows_generated"],
        "valid_rows": valid,
        "rows_returned": int(sampler.synthetic_mask_.sum()),
        "seconds": round(seconds, 3),
        "llm_seconds": stats["llm_seconds"],
        "valid_rows_per_s": _ratio(valid, seconds),
        "attempted_rows_per_s": _ratio(stats["rows_generated"], seconds),
        "input_tokens": stats["input_tokens"],
        "output_tokens": stats["output_tokens"],
        "forced_tokens": stats["forced_tokens"],
        "output_tokens_per_cell": stats["output_tokens_per_cell"],
        "llm_calls": calls,
        "prompts": prompts_n,
        "calls_per_100_rows": _ratio(100 * calls, valid),
        "prompts_per_100_rows": _ratio(100 * prompts_n, valid),
        "mean_forward_batch": _ratio(prompts_n, calls),
        "tokens_per_sequence": _ratio(model_tokens, prompts_n),
        "parse_failures": stats["parse_failures"],
        "failed_batches": 0,
        "gen_tokens_per_s": _ratio(model_tokens, stats["llm_seconds"]),
        "peak_rss_mib": round(mem.peak, 1),
        "rss_delta_mib": round(mem.delta, 1),
        "memory_measure": mem.how,
        "plan_roles": len(plan["roles"]),
        "n_features": len(schema.names),
    }
    return out, schema


def _str_columns(X):
    return X.set_axis([str(c) for c in X.columns], axis=1)


def _ratio(a, b, digits=4):
    return round(a / b, digits) if b else float("nan")


# -- raw model.generate --------------------------------------------------------
def worker_prompts(backend, schema, plan_obj, pool, n, seed):
    """``n`` real worker prompts (first role, rotating classes and examples)."""
    role = plan_obj.role(plan_obj.levels()[0][0])
    specs = [schema[f] for f in role.features]
    out = []
    for i in range(n):
        target = schema.classes[i % len(schema.classes)]
        idx = pool.sample(derive_rng(seed, 77, i), 8, target)
        examples = [("", pool.line(role.features, j)) for j in idx]
        user = prompts.worker_user(schema, role.name, specs, [], target, examples, 5)
        out.append(backend.chat_prompt(prompts.WORKER_SYSTEM, user))
    return out, specs


def run_raw_generate(backend, texts, new_tokens):
    """Greedy unconstrained ``model.generate``: exactly ``new_tokens`` per row."""
    import torch

    tok, model = backend.tokenizer, backend.model
    side = tok.padding_side
    tok.padding_side = "left"
    try:
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tok.padding_side = side
    enc = {k: v.to(model.device) for k, v in enc.items()}
    with torch.inference_mode(), PeakRSS() as mem:
        start = time.perf_counter()
        out = model.generate(**enc, do_sample=False, max_new_tokens=new_tokens,
                             min_new_tokens=new_tokens, pad_token_id=tok.pad_token_id)
        seconds = time.perf_counter() - start
    made = int(out.shape[1] - enc["input_ids"].shape[1]) * len(texts)
    return {
        "seconds": round(seconds, 3),
        "llm_seconds": round(seconds, 3),
        "output_tokens": made,
        "input_tokens": int(enc["attention_mask"].sum()),
        "llm_calls": 1,
        "prompts": len(texts),
        "mean_forward_batch": len(texts),
        "tokens_per_sequence": new_tokens,
        "gen_tokens_per_s": _ratio(made, seconds),
        "peak_rss_mib": round(mem.peak, 1),
        "rss_delta_mib": round(mem.delta, 1),
        "memory_measure": mem.how,
    }


# -- the naive pipeline (T² as written) ----------------------------------------
NAIVE_SYSTEM = ("You are {role}, a worker in a data generation team. You write "
                "realistic values for your features. Answer with JSON only.")
PREFILL = "["
LABEL_SYSTEM = ("You are the Outcome Expert of a data generation team. You give "
                "the most likely outcome of each record. Answer with JSON only.")


def _json_value(spec, value):
    if spec.kind == "categorical":
        return value.item() if isinstance(value, np.generic) else value
    if spec.integer:
        return int(round(float(value)))
    return round(float(value), spec.decimals)


def _json_rows(schema, names, X, idx):
    return json.dumps([{n: _json_value(schema[n], X[n].iloc[j]) for n in names}
                       for j in idx])


class NaivePipeline:
    """Workers called one after another, free-form, whole-batch JSON answers."""

    def __init__(self, backend, schema, plan_obj, X, y, context, *, seed,
                 tries=3, max_new_tokens=768, temperature=0.8, n_examples=8):
        self.backend, self.schema, self.plan = backend, schema, plan_obj
        self.X, self.y = X, np.asarray(y)
        self.seed, self.tries = seed, tries
        self.cap, self.temperature = max_new_tokens, temperature
        self.n_examples = n_examples
        self.order = [r for level in plan_obj.levels() for r in level]
        self.header = self._header(context)
        self.calls = self.input_tokens = self.output_tokens = 0
        self.parse_failures = self.failed_batches = 0
        self.llm_seconds = 0.0

    def _header(self, context):
        lines = []
        if context.get("dataset_description"):
            lines.append("Dataset: " + context["dataset_description"])
        lines.append("Features and their meanings:")
        lines += [prompts.describe_feature(s) for s in self.schema.features]
        return "\n".join(lines)

    def _examples(self, key, target=None):
        rng = derive_rng(self.seed, *key)
        pool = (np.flatnonzero(self.y == target) if target is not None
                else np.arange(len(self.y)))
        return rng.permutation(pool)[: self.n_examples]

    def _call(self, system, user, key, max_new_tokens):
        import torch

        backend = self.backend
        tok, model = backend.tokenizer, backend.model
        # the answer is started with "[" (a common, mild nudge towards the
        # asked format; the rest is free-form)
        text = backend.chat_prompt(system, user, prefill=PREFILL)
        enc = tok(text, return_tensors="pt", add_special_tokens=False)
        enc = {k: v.to(model.device) for k, v in enc.items()}
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(derive_seed(self.seed, *key) % (2**32))
            start = time.perf_counter()
            out = model.generate(**enc, do_sample=True, temperature=self.temperature,
                                 max_new_tokens=max_new_tokens,
                                 pad_token_id=tok.pad_token_id)
            self.llm_seconds += time.perf_counter() - start
        new = out[0, enc["input_ids"].shape[1]:]
        self.calls += 1
        self.input_tokens += int(enc["input_ids"].shape[1])
        self.output_tokens += int(new.shape[0])
        return PREFILL + tok.decode(new, skip_special_tokens=True)

    def _ask(self, system, user, key, max_new_tokens, check):
        """Call, parse the whole answer; ask again when it does not parse."""
        for attempt in range(self.tries):
            text = self._call(system, user, (*key, attempt), max_new_tokens)
            try:
                return check(_json_list(text))
            except ValueError:
                self.parse_failures += 1
        return None

    def batch(self, b, target, size):
        """Rows (dicts) and labels of one batch; ``None`` when it failed."""
        schema, tgt = self.schema, prompts._one_line(schema_target(self.schema))
        rows = [dict() for _ in range(size)]
        done: list = []
        for r, role_name in enumerate(self.order):
            role = self.plan.role(role_name)
            keys = list(role.features)
            idx = self._examples((b, r, 1), target)
            user = [self.header,
                    f"Real records with {tgt} = {prompts._one_line(target)}:",
                    _json_rows(schema, done + keys, self.X, idx)]
            if done:
                user += [f"Here are {len(rows)} new records with the values other "
                         "workers already wrote:", json.dumps(rows)]
                user.append(f"Task: for each of these {len(rows)} records, write "
                            f"realistic values of {', '.join(keys)}. Answer with a "
                            f"JSON list of {len(rows)} objects in the same order, each "
                            f"with the keys {json.dumps(keys)}.")
            else:
                user.append(f"Task: write {len(rows)} new, varied, realistic records "
                            f"with {tgt} = {prompts._one_line(target)}. Answer with a "
                            f"JSON list of {len(rows)} objects, each with the keys "
                            f"{json.dumps(keys)}.")
            budget = min(self.cap, 32 + len(rows) * (8 + 16 * len(keys)))

            def check(items, n=len(rows)):
                items = [it for it in items[:n] if isinstance(it, dict)]
                if not items:
                    raise ValueError("no objects")
                return items

            items = self._ask(NAIVE_SYSTEM.format(role=role_name), "\n".join(user),
                              (b, r, 2), budget, check)
            if items is None:
                self.failed_batches += 1
                return None, None
            rows = rows[: len(items)]  # rows the answer left out are lost
            for row, item in zip(rows, items):
                row.update({k: _plain(item.get(k)) for k in keys})
            done += keys
        # label worker
        options = class_texts(schema)
        idx = self._examples((b, 999, 1))
        names = schema.names
        examples = [{**{n: _json_value(schema[n], self.X[n].iloc[j]) for n in names},
                     tgt: _json_value_label(self.y[j])} for j in idx]
        user = "\n".join([
            self.header,
            f"Real records with their {tgt} (one of {', '.join(options)}):",
            json.dumps(examples),
            f"Here are {len(rows)} new records:", json.dumps(rows),
            f"Task: give the {tgt} of each new record. Answer with a JSON list of "
            f"{len(rows)} values in the same order, each one of {json.dumps(options)}.",
        ])
        to_class = dict(zip(options, schema.classes))

        def check_labels(items, n=len(rows)):
            if not items:
                raise ValueError("no labels")
            return [to_class.get(str(v).strip()) for v in items[:n]]

        labels = self._ask(LABEL_SYSTEM, user, (b, 999, 2),
                           min(self.cap, 32 + 8 * len(rows)), check_labels)
        if labels is None:
            self.failed_batches += 1
            return None, None
        return rows[: len(labels)], labels

    def run(self, n_rows, batch_size, targets):
        valid = 0
        for b in range(math.ceil(n_rows / batch_size)):
            size = min(batch_size, n_rows - b * batch_size)
            rows, labels = self.batch(b, targets[b % len(targets)], size)
            if rows is not None:
                valid += validate(self.schema, rows, labels)
        return valid


def schema_target(schema):
    return schema.target


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _json_value_label(value):
    value = _plain(value)
    return value if isinstance(value, (int, float, str)) else str(value)


def _json_list(text):
    """The JSON list of an answer: from its first ``[`` to its last ``]``."""
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        raise ValueError("no JSON list")
    try:
        value = json.loads(text[start:end + 1])
    except json.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(value, list):
        raise ValueError("not a list")
    return value


def run_naive(backend, X, y, schema, plan_obj, context, n_rows, batch_size, seed,
              tries, max_new_tokens):
    _, extra = quotas_for(pd.Series(np.asarray(y)), max(n_rows, 1))
    targets = [c for c, n in extra.items() if n > 0]
    pipe = NaivePipeline(backend, schema, plan_obj, X, y, context, seed=seed,
                         tries=tries, max_new_tokens=max_new_tokens)
    with PeakRSS() as mem:
        start = time.perf_counter()
        valid = pipe.run(n_rows, batch_size, targets)
        seconds = time.perf_counter() - start
    cells = n_rows * (len(schema.names) + 1)
    return {
        "rows_requested": n_rows,
        "rows_generated": n_rows,
        "valid_rows": valid,
        "rows_returned": valid,
        "seconds": round(seconds, 3),
        "llm_seconds": round(pipe.llm_seconds, 3),
        "valid_rows_per_s": _ratio(valid, seconds),
        "attempted_rows_per_s": _ratio(n_rows, seconds),
        "input_tokens": pipe.input_tokens,
        "output_tokens": pipe.output_tokens,
        "forced_tokens": 0,
        "output_tokens_per_cell": _ratio(pipe.output_tokens, cells, 3),
        "llm_calls": pipe.calls,
        "prompts": pipe.calls,
        "calls_per_100_rows": _ratio(100 * pipe.calls, valid),
        "prompts_per_100_rows": _ratio(100 * pipe.calls, valid),
        "mean_forward_batch": 1.0,
        "tokens_per_sequence": _ratio(pipe.output_tokens, pipe.calls),
        "parse_failures": pipe.parse_failures,
        "failed_batches": pipe.failed_batches,
        "gen_tokens_per_s": _ratio(pipe.output_tokens, pipe.llm_seconds),
        "peak_rss_mib": round(mem.peak, 1),
        "rss_delta_mib": round(mem.delta, 1),
        "memory_measure": mem.how,
        "plan_roles": len(plan_obj.roles),
        "n_features": len(schema.names),
    }


# -- dtype check ---------------------------------------------------------------
def dtype_check(model, schema, plan_obj, pool, seed, batches, reps=2):
    """``backend.generate`` (grammar-constrained) in float32 and bfloat16."""
    rows = []
    for dtype in ("float32", "bfloat16"):
        backend = get_backend(model, device="cpu", dtype=dtype)
        backend.generate([backend.chat_prompt("Hi", "Say hi")], ['start: "hi"'],
                         seeds=[0], max_new_tokens=4)  # warm-up
        for n in batches:
            texts, specs = worker_prompts(backend, schema, plan_obj, pool, n, seed)
            grammar = row_grammar(specs, [""] * 2)  # two rows per prompt
            best = math.inf
            for rep in range(reps):
                before = backend.usage.as_dict()
                start = time.perf_counter()
                backend.generate(texts, [grammar] * n, seeds=list(range(n)),
                                 max_new_tokens=64)
                best = min(best, time.perf_counter() - start)
            after = backend.usage.as_dict()
            made = (after["output_tokens"] + after["forced_tokens"]
                    - before["output_tokens"] - before["forced_tokens"])
            rows.append({"dtype": dtype, "forward_batch": n, "seconds": round(best, 3),
                         "gen_tokens_per_s": _ratio(made, best)})
            print("dtype check", rows[-1], flush=True)
    return rows


def cpu_bf16_flags():
    """The bf16-related CPU flags of ``/proc/cpuinfo`` (empty when none)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return sorted(f for f in line.split(":", 1)[1].split()
                                  if "bf16" in f or f.startswith("amx"))
    except OSError:
        pass
    return []


def dtype_environment(model):
    """CPU model, bf16 flags, transformers and what ``dtype="auto"`` picks
    for ``model``."""
    import transformers

    from skteam.llm.hf import choose_dtype, cpu_has_native_bf16, gguf_weights_packed
    from skteam.llm.registry import parse_model_spec, split_hf_options

    kind, target = parse_model_spec(model)
    path = split_hf_options(target)[0] if kind == "hf" else None
    auto, reason = choose_dtype("auto", "cpu", path)
    return {"cpu_bf16_flags": " ".join(cpu_bf16_flags()),
            "native_bf16": cpu_has_native_bf16(),
            "weights_packed_expected": bool(path) and gguf_weights_packed(path),
            "auto_dtype": auto, "auto_reason": reason,
            "transformers": transformers.__version__}


def write_csv(df, out) -> Path:
    """Write ``df`` to ``out`` (folders made as needed); say so; return the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    print(f"wrote {out}")
    return out


def compare_dtypes(args, hw):
    """``skteam`` rows/s on the first dataset for each ``--compare-dtypes``.

    The dtypes take turns (A, B, A, B, ... ``--dtype-reps`` rounds) in one
    process, so that a busy machine slows each alike; each dtype's median
    run is compared to the first dtype's.
    """
    name = args.datasets[0]
    X, y, context = load_dataset(name, args.train, args.seed)
    schema = Schema.infer(X, y, descriptions=context["feature_descriptions"],
                          dataset_description=context["dataset_description"])
    plan_obj = load_plan(FIXED_PLANS[name], schema)
    plan = {"roles": [{"name": r.name, "features": list(r.features)}
                      for r in plan_obj.roles],
            "edges": [list(e) for e in plan_obj.edges]}
    env = dtype_environment(args.model)
    print(f"cpu {hw['cpu']}; bf16 flags {env['cpu_bf16_flags'] or 'none'}; native "
          f"bf16 {env['native_bf16']}; transformers {env['transformers']}; "
          f"dtype='auto' -> {env['auto_dtype']} ({env['auto_reason']}); {hw}",
          flush=True)
    backends = {}
    for dtype in args.compare_dtypes:
        model = f"{args.model}?dtype={dtype}"
        backend = backends[dtype] = get_backend(model, device="cpu")
        backend.generate([backend.chat_prompt("Hi", "Say hi")], ['start: "hi"'],
                         seeds=[0], max_new_tokens=4)  # warm-up
    records = []
    for rep in range(args.dtype_reps):
        for dtype, backend in backends.items():
            model = f"{args.model}?dtype={dtype}"
            sk, _ = run_skteam(model, X, y, {**context, "labeling": "target"}, plan,
                               args.rows, args.seed,
                               rows_per_chunk=args.rows_per_chunk)
            row = {**sk, **hw, **env, "dataset": name,
                   "method": f"skteam dtype={dtype}",
                   "requested_dtype": dtype, "dtype": backend.dtype,
                   "dtype_reason": backend.dtype_reason,
                   "weights_packed": backend.weights_packed, "rep": rep,
                   "rows_per_chunk": (args.rows_per_chunk
                                      or DEFAULT_TUNING.rows_per_chunk),
                   "model": args.model, "seed": args.seed, "train_rows": args.train}
            records.append(row)
            print({k: row[k] for k in ("method", "rep", "dtype", "valid_rows",
                                       "seconds", "valid_rows_per_s",
                                       "gen_tokens_per_s", "parse_failures")},
                  flush=True)
    df = pd.DataFrame(records)
    medians = df.groupby("requested_dtype", sort=False)["valid_rows_per_s"].median()
    first = medians.iloc[0]
    df["median_valid_rows_per_s"] = df["requested_dtype"].map(medians)
    df["median_speedup_vs_first"] = df["requested_dtype"].map(
        lambda d: _ratio(medians[d], first, 3))
    for dtype, backend in backends.items():
        print(f"skteam dtype={dtype} ({backend.dtype}; {backend.dtype_reason}): median "
              f"{medians[dtype]} valid rows/s over {args.dtype_reps} runs, "
              f"x{_ratio(medians[dtype], first, 3)} vs dtype="
              f"{args.compare_dtypes[0]}", flush=True)
    write_csv(df, args.out or RESULTS / "perf_dtypes.csv")
    return records


def forward_check(args, hw):
    """Prompt processing and decode steps of the model in float32 and bfloat16.

    The model is called as ``HFBackend`` calls it (``logits_to_keep=1``, a
    ``DynamicCache``): for each ``batch:prompt tokens`` case, one forward pass
    over random prompt tokens (prompt tokens/s), then five one-token decode
    steps on its cache (median ms per step). The dtypes take turns,
    ``--dtype-reps`` rounds; the best round of each is kept.
    """
    import statistics

    import torch
    from transformers import DynamicCache

    from skteam.llm.registry import parse_model_spec, split_hf_options

    env = dtype_environment(args.model)
    print(f"cpu {hw['cpu']}; bf16 flags {env['cpu_bf16_flags'] or 'none'}; "
          f"dtype='auto' -> {env['auto_dtype']} ({env['auto_reason']}); {hw}",
          flush=True)
    path = split_hf_options(parse_model_spec(args.model)[1])[0]
    models = {}
    for dtype in ("float32", "bfloat16"):
        backend = get_backend(f"{args.model}?dtype={dtype}", device="cpu")
        models[dtype] = backend.model
    gen = torch.Generator().manual_seed(args.seed)

    def step(model, ids, cache):
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1, cache=cache)
        return out.logits[:, -1].float()

    runs = {}
    with torch.inference_mode():
        for model in models.values():  # warm-up
            warm = torch.randint(100, 1000, (2, 16), generator=gen)
            step(model, warm, DynamicCache())
        for case in args.forward_cases:
            batch, tokens = (int(v) for v in case.split(":"))
            vocab = min(m.config.vocab_size for m in models.values())
            ids = torch.randint(100, vocab, (batch, tokens), generator=gen)
            for rep in range(args.dtype_reps):
                for dtype, model in models.items():
                    cache = DynamicCache()
                    start = time.perf_counter()
                    logits = step(model, ids, cache)
                    prompt_s = time.perf_counter() - start
                    nxt, steps = logits.argmax(-1, keepdim=True), []
                    for _ in range(5):
                        start = time.perf_counter()
                        logits = step(model, nxt, cache)
                        steps.append(time.perf_counter() - start)
                        nxt = logits.argmax(-1, keepdim=True)
                    got = (batch * tokens / prompt_s, 1000 * statistics.median(steps))
                    runs.setdefault((batch, tokens, dtype), []).append(got)
                    print(f"batch {batch}, {tokens} prompt tokens, {dtype}, round "
                          f"{rep}: {got[0]:.0f} prompt tokens/s, decode step "
                          f"{got[1]:.0f} ms", flush=True)
    records = []
    for (batch, tokens, dtype), got in runs.items():
        records.append({**hw, **env, "model": args.model, "path": str(path),
                        "method": "forward", "dtype": dtype, "forward_batch": batch,
                        "prompt_tokens": tokens, "rounds": len(got),
                        "prompt_tokens_per_s": round(max(g[0] for g in got), 1),
                        "decode_step_ms": round(min(g[1] for g in got), 1)})
    df = pd.DataFrame(records)
    for (batch, tokens), part in df.groupby(["forward_batch", "prompt_tokens"]):
        by = part.set_index("dtype")
        print(f"batch {batch}, {tokens} prompt tokens: prompt tokens/s "
              f"{by.loc['float32', 'prompt_tokens_per_s']} -> "
              f"{by.loc['bfloat16', 'prompt_tokens_per_s']} (fp32 -> bf16), "
              f"decode step "
              f"{by.loc['float32', 'decode_step_ms']} -> "
              f"{by.loc['bfloat16', 'decode_step_ms']} ms", flush=True)
    write_csv(df, args.out or RESULTS / "perf_dtype_forward.csv")
    return records


# -- main ----------------------------------------------------------------------
def hardware():
    import torch

    return {"cpu": H.cpu_name(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__}


def plot(df, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = df[df["method"] == "skteam sweep"]
    raw = df[df["method"] == "raw generate (sweep)"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for rpp, part in sweep.groupby("rows_per_prompt"):
        part = part.sort_values("rows_per_chunk")
        axes[0].plot(part["rows_per_chunk"], part["valid_rows_per_s"], "o-",
                     label=f"{int(rpp)} row(s) per prompt")
        part = part.sort_values("mean_forward_batch")
        axes[1].plot(part["mean_forward_batch"], part["gen_tokens_per_s"], "o-",
                     label=f"skteam, {int(rpp)} row(s) per prompt")
    if len(raw):
        raw = raw.sort_values("mean_forward_batch")
        axes[1].plot(raw["mean_forward_batch"], raw["gen_tokens_per_s"], "k--",
                     marker="x", label="raw model.generate (same batch)")
    axes[0].set(xlabel="rows per chunk (rows_per_chunk)", ylabel="valid rows / s",
                title="skteam rows per second")
    axes[1].set(xlabel="sequences per forward batch", ylabel="generated tokens / s",
                title="tokens per second (sampled + forced)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ds = sweep["dataset"].iloc[0] if len(sweep) else ""
    fig.suptitle(f"skteam generation throughput vs batch size ({ds}, "
                 f"{df['cpu'].iloc[0]}, {int(df['torch_threads'].iloc[0])} threads)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["compas", "diabetes"])
    p.add_argument("--rows", type=int, default=120,
                   help="rows skteam generates per dataset (spread over classes)")
    p.add_argument("--naive-rows", type=int, default=20)
    p.add_argument("--naive-batch", type=int, default=10,
                   help="rows per naive call (T² Table 8: 10)")
    p.add_argument("--naive-tries", type=int, default=3)
    p.add_argument("--naive-max-new-tokens", type=int, default=768)
    p.add_argument("--batch-sizes", type=int, nargs="*", default=[10, 20, 40, 60, 120],
                   help="rows_per_chunk values of the sweep (first dataset)")
    p.add_argument("--rows-per-prompt", type=int, nargs="*", default=[1, 5],
                   help="rows_per_prompt values of the sweep")
    p.add_argument("--rows-per-chunk", type=int, default=None,
                   help="rows_per_chunk of the main skteam run (default: the "
                        "library's)")
    p.add_argument("--train", type=int, default=200)
    p.add_argument("--model", default="embedded")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plan", choices=["fixed", "manager"], default="fixed",
                   help="fixed: FIXED_PLANS (3 roles + label worker); manager: "
                        "one task-manager call per dataset (not timed)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--dtype-check", action="store_true")
    p.add_argument("--compare-dtypes", nargs="+", default=None,
                   choices=["float32", "bfloat16", "auto"],
                   help="only skteam on the first dataset, the dtypes taking turns "
                        "(results/perf_dtypes.csv)")
    p.add_argument("--dtype-reps", type=int, default=2,
                   help="rounds of --compare-dtypes / --forward-check")
    p.add_argument("--forward-check", action="store_true",
                   help="only the model's prompt processing and decode steps in "
                        "float32 and bfloat16 (results/perf_dtype_forward.csv)")
    p.add_argument("--forward-cases", nargs="+", default=["10:400", "60:128"],
                   help="batch:prompt-tokens cases of --forward-check")
    p.add_argument("--checkpoint-dir", default=None,
                   help="write the bundled model as a checkpoint directory here "
                        "(kept if present) and use it as --model")
    p.add_argument("--quick", action="store_true",
                   help="tiny settings: 20 skteam rows, 5 naive rows, one "
                        "dataset's sweep at 2 points")
    p.add_argument("--out", default=None,
                   help="default results/perf.csv (perf_dtypes.csv, "
                        "perf_dtype_forward.csv for the dtype modes)")
    args = p.parse_args(argv)
    if args.quick:
        args.rows, args.naive_rows, args.naive_batch = 10, 2, 2
        args.rows_per_chunk = args.rows_per_chunk or 10
        args.naive_max_new_tokens = min(args.naive_max_new_tokens, 256)
        args.batch_sizes, args.rows_per_prompt = [10, 20], [1]
        args.train = min(args.train, 100)

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    hw = hardware()
    if args.checkpoint_dir:
        from skteam.llm.embedded import write_checkpoint_dir

        args.model = str(write_checkpoint_dir(args.checkpoint_dir))
    if args.forward_check:
        return forward_check(args, hw)
    if args.compare_dtypes:
        return compare_dtypes(args, hw)
    args.out = args.out or str(RESULTS / "perf.csv")
    t0 = time.perf_counter()
    backend = get_backend(args.model)
    load_seconds = time.perf_counter() - t0
    # first call of a process pays a warm-up; neither method should
    backend.generate([backend.chat_prompt("Hi", "Say hi")], ['start: "hi"'],
                     seeds=[0], max_new_tokens=4)
    backend.model.generate(**backend.tokenizer("Hi", return_tensors="pt").to(
                               backend.model.device),
                           max_new_tokens=2, do_sample=False,
                           pad_token_id=backend.tokenizer.pad_token_id)
    print(f"model {args.model} loaded in {load_seconds:.1f} s; {hw}", flush=True)
    common = {"model": args.model, "seed": args.seed, "train_rows": args.train,
              "device": backend.device, "dtype": backend.dtype, **hw}

    records = []

    def emit(row):
        row = {**row, **common}
        records.append(row)
        keys = ("dataset", "method", "rows_per_chunk", "rows_per_prompt", "valid_rows",
                "seconds", "valid_rows_per_s", "output_tokens_per_cell",
                "calls_per_100_rows", "parse_failures", "gen_tokens_per_s",
                "peak_rss_mib")
        print({k: row.get(k) for k in keys}, flush=True)

    setups = {}
    for name in args.datasets:
        X, y, context = load_dataset(name, args.train, args.seed)
        # as the sampler infers it (the label keeps y's name)
        schema = Schema.infer(X, y,
                              descriptions=context["feature_descriptions"],
                              dataset_description=context["dataset_description"])
        start = time.perf_counter()
        if args.plan == "manager":
            rng = derive_rng(args.seed, 1)
            idx = rng.permutation(len(X))[:5]
            plan_obj = plan_with_manager(backend, schema, X.iloc[idx].values.tolist(),
                                         seed=derive_seed(args.seed, 2))
        else:
            plan_obj = load_plan(FIXED_PLANS[name], schema)
        plan_seconds = time.perf_counter() - start
        plan = {"roles": [{"name": r.name, "features": list(r.features)}
                          for r in plan_obj.roles],
                "edges": [list(e) for e in plan_obj.edges]}
        plan_obj = load_plan(plan, schema)
        print(f"{name}: plan ({plan_seconds:.1f} s) {json.dumps(plan)}", flush=True)
        setups[name] = (X, y, context, schema, plan, plan_obj)
        base = {"dataset": name, "plan_seconds": round(plan_seconds, 2),
                "plan": json.dumps(plan)}

        # (a) skteam with the library's defaults
        sk, sk_schema = run_skteam(args.model, X, y, context, plan, args.rows,
                                   args.seed, rows_per_chunk=args.rows_per_chunk)
        sk.update(base, method="skteam",
                  rows_per_chunk=args.rows_per_chunk or DEFAULT_TUNING.rows_per_chunk,
                  rows_per_prompt=DEFAULT_TUNING.rows_per_prompt,
                  min_prompts_per_call=DEFAULT_TUNING.min_prompts_per_call)

        # raw model.generate at skteam's mean batch and tokens per sequence
        pool = ExamplePool(sk_schema, _str_columns(X), y)
        n_seq = max(1, round(sk["mean_forward_batch"]))
        n_new = max(4, round(sk["tokens_per_sequence"]))
        texts, _ = worker_prompts(backend, sk_schema, plan_obj, pool, n_seq, args.seed)
        raw = run_raw_generate(backend, texts, n_new)
        sk["raw_generate_tokens_per_s"] = raw["gen_tokens_per_s"]
        sk["overhead_vs_raw"] = _ratio(raw["gen_tokens_per_s"],
                                       sk["gen_tokens_per_s"], 3)
        emit(sk)
        emit({**raw, **base, "method": "raw generate"})

        # (b) the naive pipeline
        nv = run_naive(backend, X, y, sk_schema, plan_obj, context, args.naive_rows,
                       args.naive_batch, args.seed, args.naive_tries,
                       args.naive_max_new_tokens)
        nv.update(base, method="naive", rows_per_prompt=args.naive_batch)
        emit(nv)
        speedup = (_ratio(sk["valid_rows_per_s"], nv["valid_rows_per_s"], 2)
                   if nv["valid_rows"] else float("inf"))
        attempted = _ratio(sk["attempted_rows_per_s"], nv["attempted_rows_per_s"], 2)
        records[-3].update(speedup_vs_naive=speedup,
                           attempted_speedup_vs_naive=attempted)
        print(f"{name}: skteam {sk['valid_rows_per_s']} valid rows/s, naive "
              f"{nv['valid_rows_per_s']} valid rows/s ({nv['valid_rows']} of "
              f"{nv['rows_requested']} valid) -> {speedup}x; per attempted row "
              f"{attempted}x", flush=True)

    # batch-size sweep on the first dataset
    if args.batch_sizes and args.rows_per_prompt:
        name = args.datasets[0]
        X, y, context, schema, plan, plan_obj = setups[name]
        pool = ExamplePool(schema, _str_columns(X), y)
        for rpp in args.rows_per_prompt:
            for chunk in args.batch_sizes:
                rows = max(args.rows, chunk)
                sk, _ = run_skteam(args.model, X, y, context, plan, rows, args.seed,
                                   rows_per_chunk=chunk, rows_per_prompt=rpp,
                                   min_prompts=1)
                n_seq = max(1, round(sk["mean_forward_batch"]))
                n_new = max(4, round(sk["tokens_per_sequence"]))
                texts, _ = worker_prompts(backend, schema, plan_obj, pool, n_seq,
                                          args.seed)
                raw = run_raw_generate(backend, texts, n_new)
                sk.update(dataset=name, method="skteam sweep", rows_per_chunk=chunk,
                          rows_per_prompt=rpp, min_prompts_per_call=1,
                          raw_generate_tokens_per_s=raw["gen_tokens_per_s"],
                          overhead_vs_raw=_ratio(raw["gen_tokens_per_s"],
                                                 sk["gen_tokens_per_s"], 3))
                emit(sk)
                emit({**raw, "dataset": name, "method": "raw generate (sweep)",
                      "rows_per_chunk": chunk, "rows_per_prompt": rpp})

    if args.dtype_check:
        name = args.datasets[0]
        X, y, context, schema, plan, plan_obj = setups[name]
        pool = ExamplePool(schema, _str_columns(X), y)
        batches = [32] if args.quick else [32, 64]
        for row in dtype_check(args.model, schema, plan_obj, pool, args.seed, batches,
                               reps=1 if args.quick else 2):
            records.append({**common, **row, "dataset": name,
                            "method": f"backend.generate {row['dtype']}",
                            "mean_forward_batch": row["forward_batch"]})

    df = pd.DataFrame(records)
    out = write_csv(df, args.out)
    if (df["method"] == "skteam sweep").any():
        png = out.with_name(out.stem + "_throughput.png")
        plot(df, png)
        print(f"wrote {png}")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
