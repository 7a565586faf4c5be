"""Shared code of the paper-table benchmarks (T² §3 and appendix C).

Every table script builds a list of :class:`Cell` (one training set D_ori,
one test set, one seed) and hands it to :func:`run`. For every cell and
method the harness generates once, then fits and scores the four downstream
models (LR, SVM, MLP, RF) on that one resampled set, so a method's cost is
paid once per (dataset, size, seed, method). Results go to
``benchmarks/results/<name>.csv`` (one row per cell × method × model), a
markdown table ``<name>.md`` and a plot ``<name>.png``.

Methods (all on the same cells and the same quotas):

- ``D_ori``: the original rows only.
- ``SMOTE``: imbalanced-learn's SMOTE, or SMOTENC when D_ori has categorical
  columns. ``k_neighbors = min(5, n_min - 1)`` where ``n_min`` is the
  smallest class being over-sampled; classes with fewer than 2 rows cannot be
  interpolated and are skipped (their quota stays unfilled and the reason is
  recorded in ``note``).
- ``CLLM``: a CLLM-style baseline on the same LLM backend: one prompt writes
  whole rows from in-context examples (``TeamTrimSampler`` with a single role
  holding every feature and ``qc=()``), then CLLM's learning-dynamics
  curation (Seedat et al., 2024, ``seedatnabeel/CLLM``
  ``src/cllm/curation.py``): a gradient-boosting classifier with 100 trees is
  fitted on D_ori; each of its 100 boosting stages is a checkpoint; for every
  synthetic row, ``confidence`` is the mean over checkpoints of the
  probability of its generated label and ``aleatoric`` the mean of
  ``p (1 - p)``; rows with ``confidence >= 0.8`` and ``aleatoric <= 0.2``
  (CLLM's defaults ``curation_ythresh = curation_xthresh = 0.2``, its "easy"
  group) are kept. Differences from CLLM: scikit-learn's
  ``GradientBoostingClassifier`` instead of XGBoost (not a dependency); the
  label is written by skteam's label worker in a second prompt (grammar
  constrained) rather than in the same JSON object; and, as in CLLM, the
  curation only removes rows, so CLLM usually adds fewer rows than asked.
- ``skteam (no QC)``: ``TeamTrimSampler(qc=())``, the team alone.
- ``skteam``: ``TeamTrimSampler`` with the full three-stage QC.
- with ``--ablation``: ``skteam +sanity`` and ``skteam +sanity+cost`` (T²'s
  Table 6 "after QC step 1 / 2").
- on request (``--methods``): ``skteam (no QC, target labels)`` and
  ``skteam (target labels)``: ``labeling="target"``, every generated row
  keeps the class it was written for, no label worker. Their raw batches
  are a stream of their own (same feature prompts and seeds).
- on request: ``ROS``, imbalanced-learn's ``RandomOverSampler`` (copies of
  D_ori rows, on the same quota).
- a script may add skteam variants of its own with :func:`register_method`
  (a name, its ``qc`` and sampler options that replace the harness's, e.g.
  ``on_shortfall="fill"``); ``benchmarks/suite.py`` does.

All skteam variants of a cell read the same raw batch stream (in-process
cache; the stream does not depend on ``qc``), so the ``seconds`` of the
variants after the first count only the batches the first did not read;
``cached_batches`` says how many were reused.

The cost stage of the QC needs the downstream model ``f``; T² does not say
which of its four models it used, so the harness passes
``LogisticRegression(max_iter=1000)`` (the sampler's default) for every
downstream model. The LLM methods use ``on_shortfall="warn"`` and a
``max_batches`` cap (``--max-batches-factor``), so a run never stops because
the QC rejected many batches; ``rows_added`` records what was really added.

TVAE and CTGAN (T²'s other baselines) are not run: the maintained packages
that implement them, ``ctgan`` and ``sdv`` (DataCebo), are under the Business
Source License 1.1, which is not an OSI open-source licence, and
``synthcity`` (Apache-2.0) pins ``torch<2.3`` and ``numpy<2``, which cannot
be installed next to skteam's ``torch==2.13``. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, recall_score, roc_auc_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from tqdm.auto import tqdm

import skteam.testing  # noqa: F401  (registers --model test::uniform)

RESULTS = Path(__file__).parent / "results"
MODELS = ("LR", "SVM", "MLP", "RF")
BASE_METHODS = ("D_ori", "SMOTE", "CLLM", "skteam (no QC)", "skteam")
ABLATION_METHODS = ("skteam +sanity", "skteam +sanity+cost")
TARGET_METHODS = ("skteam (no QC, target labels)", "skteam (target labels)")
#: Methods without an LLM that no table runs by default (``--methods``).
EXTRA_METHODS = ("ROS",)
METHOD_ORDER = (BASE_METHODS[:4] + ABLATION_METHODS + TARGET_METHODS[:1]
                + BASE_METHODS[4:] + TARGET_METHODS[1:] + EXTRA_METHODS)
SKTEAM_QC = {
    "skteam (no QC)": (),
    "skteam +sanity": ("sanity",),
    "skteam +sanity+cost": ("sanity", "cost"),
    "skteam": ("sanity", "cost", "diversity"),
    "skteam (no QC, target labels)": (),
    "skteam (target labels)": ("sanity", "cost", "diversity"),
}
#: skteam variant -> TeamTrimSampler options that replace the harness's
#: (see :func:`register_method`).
SKTEAM_OPTIONS: dict = {}
# CLLM curation defaults (seedatnabeel/CLLM, data_centric_curation).
CLLM_TREES = 100
CLLM_CONF_THRESH = 0.2      # keep confidence >= 1 - 0.2
CLLM_ALEATORIC_THRESH = 0.2  # keep aleatoric <= 0.2
TEST_SEED_OFFSET = 10_000


def register_method(name: str, *, qc=None, before: str | None = None,
                    **sampler_options) -> None:
    """Add (or move) a method in :data:`METHOD_ORDER`.

    Parameters
    ----------
    name : str
        The method's name in ``--methods``, the CSV and the tables.
    qc : tuple of str, default=None
        Not None: ``name`` is an skteam variant with these QC stages.
    before : str, default=None
        Place ``name`` before this method in :data:`METHOD_ORDER` (order of
        tables and plots); None: at the end.
    **sampler_options
        ``TeamTrimSampler`` options of the variant that replace the
        harness's (e.g. ``labeling="auto"``, ``on_shortfall="fill"``,
        ``estimator=None``).
    """
    global METHOD_ORDER
    order = [m for m in METHOD_ORDER if m != name]
    at = order.index(before) if before in order else len(order)
    METHOD_ORDER = tuple(order[:at] + [name] + order[at:])
    if qc is not None:
        SKTEAM_QC[name] = tuple(qc)
        SKTEAM_OPTIONS[name] = dict(sampler_options)


# -- cells ----------------------------------------------------------------------
@dataclass
class Cell:
    """One training set D_ori and its test set, for one seed."""

    dataset: str
    setting: str
    size: int
    seed: int
    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series
    n_add: int
    context: dict = field(default_factory=dict)

    @property
    def key(self) -> dict:
        return {"dataset": self.dataset, "setting": self.setting,
                "size": self.size, "seed": self.seed}


def balanced_quota(y, n_add: int) -> dict:
    """Class -> target count after adding ``n_add`` rows, smallest classes first.

    Water-filling: each added row goes to the class with the fewest rows
    (ties: the class that sorts first), so small additions fill the minority
    classes and large ones end near balance. Only classes present in ``y``
    get rows. The dict is an imbalanced-learn ``sampling_strategy``.
    """
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    target = dict(zip(classes.tolist(), counts.tolist()))
    for _ in range(int(n_add)):
        c = min(target, key=lambda k: (target[k], str(k)))
        target[c] += 1
    start = dict(zip(classes.tolist(), counts.tolist()))
    return {c: n for c, n in target.items() if n > start[c]}


def stratified_split(X, y, n_train, n_test, seed):
    """A stratified random D_ori of ``n_train`` rows and a test set.

    ``n_test=None`` takes every remaining row as test set. Each class keeps
    at least one training row when ``n_train`` allows it.
    """
    from sklearn.model_selection import train_test_split

    X_tr, X_rest, y_tr, y_rest = train_test_split(
        X, y, train_size=n_train, stratify=y, random_state=seed)
    if n_test is not None and n_test < len(X_rest):
        X_rest, _, y_rest, _ = train_test_split(
            X_rest, y_rest, train_size=n_test, stratify=y_rest,
            random_state=seed + TEST_SEED_OFFSET)
    return (X_tr.reset_index(drop=True), y_tr.reset_index(drop=True),
            X_rest.reset_index(drop=True), y_rest.reset_index(drop=True))


# -- downstream models and metrics ---------------------------------------------------
def categorical_columns(X: pd.DataFrame) -> list:
    return [c for c in X.columns
            if isinstance(X[c].dtype, pd.CategoricalDtype)
            or pd.api.types.is_object_dtype(X[c])
            or pd.api.types.is_string_dtype(X[c])
            or pd.api.types.is_bool_dtype(X[c])]


def _as_model_input(X: pd.DataFrame, cats) -> pd.DataFrame:
    X = X.copy()
    for c in cats:
        X[c] = X[c].astype(str)
    for c in X.columns:
        if c not in cats:
            X[c] = pd.to_numeric(X[c], errors="coerce").astype(float)
    return X


def downstream_models(seed: int) -> dict:
    """The four downstream models of T² (unfitted), seeded."""
    return {
        "LR": LogisticRegression(max_iter=1000),
        # probability=True is deprecated in scikit-learn 1.9 (removed in 1.11);
        # its internal Platt scaling copes with 1-row classes, which
        # CalibratedClassifierCV's k-fold does not, so it is kept here.
        "SVM": SVC(probability=True, random_state=seed),
        "MLP": MLPClassifier(hidden_layer_sizes=(100,), max_iter=1000,
                             random_state=seed),
        "RF": RandomForestClassifier(n_estimators=100, random_state=seed),
    }


def _pipeline(model, X: pd.DataFrame, cats):
    nums = [c for c in X.columns if c not in cats]
    pre = ColumnTransformer(
        [("num", StandardScaler(), nums),
         ("cat", OneHotEncoder(handle_unknown="ignore"), list(cats))],
        sparse_threshold=0)
    return make_pipeline(pre, model)


def evaluate(X_res, y_res, X_test, y_test, classes, seed, cats,
             models=MODELS) -> list[dict]:
    """Fit each downstream model on (X_res, y_res); score it on the test set.

    ``models``: the names (of :data:`MODELS`) to fit, default all four.

    ``auc``: binary, ROC AUC of the positive class (the larger label);
    multiclass, the mean of the one-vs-rest AUCs ``auc_<class>`` over the
    classes the model was trained on (a class absent from the training data
    has no score: its AUC is NaN and left out of the mean). ``f1`` and
    ``recall`` are macro averages over the test classes; ``recall_<class>``
    per class.
    """
    Xr = _as_model_input(X_res, cats)
    Xt = _as_model_input(X_test, cats)
    y_res = np.asarray(y_res)
    y_test = np.asarray(y_test)
    test_classes = [c for c in classes if np.any(y_test == c)]
    binary = len(classes) == 2
    out = []
    for name, model in downstream_models(seed).items():
        if name not in models:
            continue
        row = {"model": name}
        try:
            if len(np.unique(y_res)) < 2:
                raise ValueError("training data hold a single class")
            pipe = _pipeline(model, Xr, cats)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pipe.fit(Xr, y_res)
                proba = pipe.predict_proba(Xt)
                pred = pipe.predict(Xt)
            known = list(pipe.classes_)
            aucs = {}
            for c in classes:
                if c in known and np.any(y_test == c) and np.any(y_test != c):
                    aucs[c] = roc_auc_score(y_test == c, proba[:, known.index(c)])
                else:
                    aucs[c] = np.nan
            if binary:
                row["auc"] = aucs[classes[1]]
            else:
                vals = [v for v in aucs.values() if not np.isnan(v)]
                row["auc"] = float(np.mean(vals)) if vals else np.nan
                for c in classes:
                    row[f"auc_{c}"] = aucs[c]
            row["accuracy"] = accuracy_score(y_test, pred)
            row["f1"] = f1_score(y_test, pred, labels=test_classes, average="macro",
                                 zero_division=0)
            row["recall"] = recall_score(y_test, pred, labels=test_classes,
                                         average="macro", zero_division=0)
            per = recall_score(y_test, pred, labels=test_classes, average=None,
                               zero_division=0)
            for c, r in zip(test_classes, per):
                row[f"recall_{c}"] = r
            row["model_error"] = ""
        except Exception as exc:  # recorded, never fatal
            row["model_error"] = f"{type(exc).__name__}: {exc}"
        out.append(row)
    return out


# -- methods --------------------------------------------------------------------------
@dataclass
class Resampled:
    X: pd.DataFrame
    y: np.ndarray
    rows_requested: int
    rows_added: int
    seconds: float
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def synthetic(self):
        n = len(self.X) - self.rows_added
        return self.X.iloc[n:].reset_index(drop=True), self.y[n:]


def _smote(cell: Cell, quota: dict, seed: int) -> Resampled:
    from imblearn.over_sampling import SMOTE, SMOTENC

    t0 = time.perf_counter()
    X, y = cell.X_train, np.asarray(cell.y_train)
    counts = {c: int((y == c).sum()) for c in np.unique(y)}
    requested = sum(t - counts[c] for c, t in quota.items())
    usable = {c: t for c, t in quota.items() if counts[c] >= 2}
    skipped = sorted(str(c) for c in quota if counts[c] < 2)
    note = (f"SMOTE skipped class(es) {skipped}: fewer than 2 rows, nothing to "
            "interpolate" if skipped else "")
    if not usable:
        return Resampled(X, y, requested, 0, time.perf_counter() - t0, note)
    k = min(5, min(counts[c] for c in usable) - 1)
    cats = categorical_columns(X)
    if cats:
        sampler = SMOTENC(categorical_features=[X.columns.get_loc(c) for c in cats],
                          sampling_strategy=usable, k_neighbors=k, random_state=seed)
    else:
        sampler = SMOTE(sampling_strategy=usable, k_neighbors=k, random_state=seed)
    Xr, yr = sampler.fit_resample(X, y)
    Xr = pd.DataFrame(Xr, columns=X.columns).reset_index(drop=True)
    added = len(Xr) - len(X)
    extra = {"k_neighbors": k, "smote": type(sampler).__name__}
    return Resampled(Xr, np.asarray(yr), requested, added,
                     time.perf_counter() - t0, note, extra)


def _ros(cell: Cell, quota: dict, seed: int) -> Resampled:
    """imbalanced-learn's RandomOverSampler on ``quota``."""
    from imblearn.over_sampling import RandomOverSampler

    t0 = time.perf_counter()
    X, y = cell.X_train, np.asarray(cell.y_train)
    requested = sum(t - int((y == c).sum()) for c, t in quota.items())
    Xr, yr = RandomOverSampler(sampling_strategy=quota,
                               random_state=seed).fit_resample(X, y)
    Xr = pd.DataFrame(Xr, columns=X.columns).reset_index(drop=True)
    return Resampled(Xr, np.asarray(yr), requested, len(Xr) - len(X),
                     time.perf_counter() - t0)


def _sampler(cell: Cell, quota: dict, cfg, *, qc, plan=None, labeling="worker",
             **overrides):
    """The harness's TeamTrimSampler for ``cell``; ``overrides`` replace its
    options (see :func:`register_method`)."""
    from skteam import TeamTrimSampler

    ctx = cell.context
    batch_size = ctx.get("batch_size", cfg.batch_size)  # a cell may override it
    n_batches = max(math.ceil((t - int((np.asarray(cell.y_train) == c).sum()))
                              / batch_size) for c, t in quota.items())
    options = dict(
        model=cfg.model,
        estimator=LogisticRegression(max_iter=1000),
        sampling_strategy=quota,
        feature_descriptions=ctx.get("feature_descriptions"),
        dataset_description=ctx.get("dataset_description"),
        constraints=ctx.get("constraints"),
        plan=plan,
        batch_size=batch_size,
        qc=qc,
        labeling=labeling,
        max_batches=cfg.max_batches_factor * n_batches + cfg.extra_batches,
        on_shortfall="warn",
        cache_dir=cfg.cache_dir,
        device=cfg.device,
        verbose=0,
        random_state=cell.seed,
    )
    options.update(overrides)
    return TeamTrimSampler(**options)


def _run_sampler(sampler, cell: Cell, requested: int):
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Xr, yr = sampler.fit_resample(cell.X_train, cell.y_train)
    seconds = time.perf_counter() - t0
    short = [str(w.message) for w in caught if "could not fill" in str(w.message)]
    note = "shortfall: " + short[0].split(": ", 1)[-1][:300] if short else ""
    stats = sampler.generation_stats_
    rep = sampler.qc_report_
    extra = {
        "batches": stats["batches"], "cached_batches": stats["cached_batches"],
        "rows_generated": int(rep["n_generated"].sum()) if len(rep) else 0,
        "parse_failures": stats["parse_failures"],
        "output_tokens": stats["output_tokens"],
        "dropped_sanity": int(rep["dropped_sanity"].sum()) if len(rep) else 0,
        "dropped_cost": int(rep["dropped_cost"].sum()) if len(rep) else 0,
        "dropped_diversity": int(rep["dropped_diversity"].sum()) if len(rep) else 0,
        "plan_roles": len(sampler.plan_["roles"]),
        # on_shortfall="fill": sane QC-rejected rows used to fill the quota
        "filled_rows": int(stats.get("filled_rows", rep["filled"].sum()
                                     if "filled" in rep else 0)),
        "filled_share": stats.get("filled_share", np.nan),
    }
    added = int(sampler.synthetic_mask_.sum())
    return Resampled(Xr.reset_index(drop=True), np.asarray(yr), requested, added,
                     seconds, note, extra)


def cllm_curate(X_ori, y_ori, X_syn, y_syn, seed, cats):
    """CLLM's learning-dynamics curation; returns the boolean keep mask.

    skteam's optional QC stage :class:`skteam.qc.curation.LearningDynamics`
    with CLLM's defaults: a ``GradientBoostingClassifier`` (100 trees)
    fitted on D_ori, its boosting stages as checkpoints; keep
    ``confidence >= 0.8`` and ``aleatoric <= 0.2``.
    """
    from skteam.qc.curation import LearningDynamics
    from skteam.schema import Schema

    y_syn = np.asarray(y_syn)
    if len(y_syn) == 0:
        return np.zeros(0, dtype=bool), {}
    Xo = _as_model_input(X_ori, cats)
    Xs = _as_model_input(X_syn, cats)
    schema = Schema.infer(Xo, np.asarray(y_ori))
    curation = LearningDynamics(CLLM_CONF_THRESH, CLLM_ALEATORIC_THRESH,
                                n_estimators=CLLM_TREES, random_state=seed)
    keep = curation.fit(Xo, np.asarray(y_ori), schema).evaluate(Xs, y_syn).keep
    return keep, {"cllm_generated": len(y_syn), "cllm_kept": int(keep.sum())}


def resample(method: str, cell: Cell, cfg) -> Resampled:
    quota = balanced_quota(cell.y_train, cell.n_add)
    y = np.asarray(cell.y_train)
    requested = sum(t - int((y == c).sum()) for c, t in quota.items())
    if method == "D_ori":
        return Resampled(cell.X_train, y, 0, 0, 0.0)
    if len(np.unique(y)) < 2:
        return Resampled(cell.X_train, y, requested, 0, 0.0,
                         "D_ori holds a single class: nothing generated")
    if method == "SMOTE":
        return _smote(cell, quota, cell.seed)
    if method == "ROS":
        return _ros(cell, quota, cell.seed)
    if method in SKTEAM_QC:
        options = {"labeling": "target" if method in TARGET_METHODS else "worker",
                   **SKTEAM_OPTIONS.get(method, {})}
        return _run_sampler(_sampler(cell, quota, cfg, qc=SKTEAM_QC[method],
                                     **options), cell, requested)
    if method == "CLLM":
        plan = {"roles": [{"name": "Record writer",
                           "features": [str(c) for c in cell.X_train.columns]}]}
        res = _run_sampler(_sampler(cell, quota, cfg, qc=(), plan=plan), cell,
                           requested)
        t0 = time.perf_counter()
        X_syn, y_syn = res.synthetic
        cats = categorical_columns(cell.X_train)
        keep, info = cllm_curate(cell.X_train, y, X_syn, y_syn, cell.seed, cats)
        X_new = pd.concat([cell.X_train, X_syn[keep]], ignore_index=True)
        y_new = np.concatenate([y, y_syn[keep]])
        res.extra.update(info)
        return Resampled(X_new, y_new, requested, int(keep.sum()),
                         res.seconds + time.perf_counter() - t0, res.note, res.extra)
    raise ValueError(f"unknown method {method!r}")


# -- command line and driver -----------------------------------------------------------
@dataclass
class Config:
    model: str
    seeds: list
    quick: bool
    methods: list
    batch_size: int
    max_batches_factor: int
    extra_batches: int
    device: str
    cache_dir: str | None
    out: Path
    argv: list
    models: tuple = MODELS  # downstream models that run() fits


def parser(doc: str, **defaults) -> argparse.ArgumentParser:
    """The common command line; ``defaults`` overrides option defaults of one
    table (e.g. ``batch_size=20``, ``max_batches_factor=1``)."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="embedded",
                   help="'embedded' (CPU default), 'hf::/path/to/llama' (GPU), or "
                        "'test::uniform' (test double; results go to results/tmp/)")
    p.add_argument("--seeds", type=int, default=None,
                   help="number of seeds 0..N-1 (default 10; --quick: 2)")
    p.add_argument("--first-seed", type=int, default=0,
                   help="seeds start here: FIRST..FIRST+N-1 (adds seeds to an "
                        "earlier run's CSV without repeating its seeds)")
    p.add_argument("--quick", action="store_true",
                   help="fewest sizes, 2 seeds, few generated rows (CPU smoke run)")
    p.add_argument("--sizes", type=int, nargs="+", default=None,
                   help="D_ori sizes (overrides the table's default)")
    p.add_argument("--rows", type=int, default=None,
                   help="rows to add per D_ori (overrides the table's default)")
    p.add_argument("--methods", nargs="+", default=None,
                   help=f"subset of {list(BASE_METHODS + TARGET_METHODS)}")
    p.add_argument("--ablation", action="store_true",
                   help="also run the per-stage QC ablation (+sanity, +sanity+cost)")
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--max-batches-factor", type=int, default=3,
                   help="max_batches = factor * batches the quota needs + "
                        "--extra-batches (per class)")
    p.add_argument("--extra-batches", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--cache-dir", default=None,
                   help="on-disk raw-batch cache shared between runs (seconds then "
                        "count only uncached batches)")
    p.add_argument("--out", default=None, help="output folder (default results/)")
    p.set_defaults(**defaults)
    return p


def config(args, argv, quick_seeds: int = 2, quick_methods=None) -> Config:
    """``quick_seeds`` / ``quick_methods``: what ``--quick`` runs when
    ``--seeds`` / ``--methods`` are not given (a table may drop costly
    methods from its CPU smoke run)."""
    n_seeds = args.seeds if args.seeds is not None else (
        quick_seeds if args.quick else 10)
    methods = list(args.methods or (quick_methods if args.quick and quick_methods
                                    else BASE_METHODS))
    for m in methods:
        if m not in METHOD_ORDER:
            raise SystemExit(f"unknown method {m!r}; choose from "
                             f"{list(METHOD_ORDER)}")
    if args.ablation:
        methods += [m for m in ABLATION_METHODS if m not in methods]
    methods = [m for m in METHOD_ORDER if m in methods]
    out = Path(args.out) if args.out else (
        RESULTS / "tmp" if args.model.startswith("test::") else RESULTS)
    seeds = list(range(args.first_seed, args.first_seed + n_seeds))
    return Config(args.model, seeds, args.quick, methods,
                  args.batch_size, args.max_batches_factor, args.extra_batches,
                  args.device, args.cache_dir, out,
                  list(argv if argv is not None else sys.argv[1:]))


def cpu_name() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (else the platform's)."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="ignore") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return name


def cpu_model() -> str:
    """The CPU's model name and its bfloat16 unit, if any.

    E.g. ``"Intel(R) Xeon(R) Processor, amx_bf16"``: timings of the embedded
    model depend on both (``docs/user_guide/gpu.rst``, dtype ``"auto"``).
    """
    from skteam.llm.hf import cpu_bf16_unit

    return f"{cpu_name()}, {cpu_bf16_unit() or 'no native bf16'}"


def hardware(cfg: Config) -> str:
    cpu = f"{os.cpu_count()} CPU cores ({platform.machine()}; {cpu_model()})"
    gpu = ""
    try:
        import torch

        if cfg.device != "cpu" and torch.cuda.is_available():
            gpu = f", GPU {torch.cuda.get_device_name(0)}"
    except Exception:
        pass
    return cpu + gpu


def run(name: str, cells: list, cfg: Config, extra_eval=None) -> pd.DataFrame:
    """Run every method on every cell; write and return the results frame.

    ``extra_eval(cell, method, resampled) -> dict`` (optional) replaces the
    downstream evaluation by one row of its own (used by the quality table).
    The CSV is rewritten after every cell, so an interrupted run keeps what
    it finished.
    """
    cfg.out.mkdir(parents=True, exist_ok=True)
    path = cfg.out / f"{name}.csv"
    rows = []
    started = time.perf_counter()
    bar = tqdm(total=len(cells) * len(cfg.methods), desc=name, unit="fit")
    for cell in cells:
        classes = list(cell.context.get("classes") or np.unique(np.concatenate(
            [np.asarray(cell.y_train), np.asarray(cell.y_test)])).tolist())
        cats = categorical_columns(cell.X_train)
        for method in cfg.methods:
            bar.set_postfix_str(f"{cell.setting} n={cell.size} s={cell.seed} {method}")
            base = {**cell.key, "method": method, "llm": (
                cfg.model if method in SKTEAM_QC or method == "CLLM" else "-")}
            try:
                res = resample(method, cell, cfg)
            except Exception as exc:  # recorded, never fatal
                print(f"\n[{name}] {method} failed on {cell.key}: {exc!r}",
                      file=sys.stderr)
                rows.append({**base, "rows_requested": cell.n_add, "rows_added": 0,
                             "note": f"error: {type(exc).__name__}: {exc}"})
                bar.update(1)
                continue
            meta = {**base, "rows_requested": res.rows_requested,
                    "rows_added": res.rows_added, "seconds": round(res.seconds, 3),
                    "note": res.note, **res.extra}
            if extra_eval is not None:
                rows.append({**meta, **extra_eval(cell, method, res)})
            else:
                for r in evaluate(res.X, res.y, cell.X_test, cell.y_test, classes,
                                  cell.seed, cats, cfg.models):
                    rows.append({**meta, **r})
            bar.update(1)
        pd.DataFrame(rows).to_csv(path, index=False)
    bar.close()
    df = pd.DataFrame(rows)
    df.to_csv(path, index=False)
    df.attrs["wall_seconds"] = time.perf_counter() - started
    print(f"wrote {path} ({len(df)} rows, {df.attrs['wall_seconds']:.0f} s)")
    return df


# -- tables and plots ------------------------------------------------------------------
def fmt(mean, std, digits=2):
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "/"
    if std is None or np.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def md_table(df, index, columns, cell_fn, index_names=None):
    """Markdown table: one row per ``index`` value tuple, one column per item."""
    head = list(index_names or index) + [c for c, _ in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    idx_vals = df[list(index)].drop_duplicates()
    for _, r in idx_vals.iterrows():
        sub = df
        for k in index:
            sub = sub[sub[k] == r[k]]
        cells = [str(r[k]) for k in index] + [cell_fn(sub, spec) for _, spec in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def metric_cell(metric=None, scale=100.0, digits=2):
    """``cell_fn`` for :func:`md_table`: mean ± std over seeds of ``metric``
    (the column spec when ``metric`` is None); each seed's value is the mean
    over every other row of the cell (models, and sizes when several)."""
    def fn(sub, spec):
        m = spec if spec else metric
        if m not in sub or sub[m].notna().sum() == 0:
            return "/"
        per_seed = sub.groupby("seed")[m].mean()
        return fmt(per_seed.mean() * scale, per_seed.std() * scale, digits)
    return fn


def order_methods(df):
    df = df.copy()
    df["method"] = pd.Categorical(df["method"], [m for m in METHOD_ORDER
                                                 if m in set(df["method"])],
                                  ordered=True)
    return df.sort_values(["method"], kind="stable")


def header(title: str, paper: str, cfg: Config, df: pd.DataFrame, extra="") -> str:
    wall = df.attrs.get("wall_seconds", float("nan"))
    lines = [
        f"# {title}",
        "",
        f"Paper: {paper}. Command: `python benchmarks/{Path(sys.argv[0]).name} "
        f"{' '.join(cfg.argv)}`.",
        f"LLM: `{cfg.model}`; seeds: {len(cfg.seeds)} "
        f"({'quick' if cfg.quick else 'full'}"
        f" run); hardware: {hardware(cfg)}; wall time {wall:.0f} s.",
        "Values: mean ± std over seeds of the per-seed average over the four "
        "downstream models (LR, SVM, MLP, RF)" + (extra and f" {extra}") + ", in %.",
    ]
    if cfg.model.startswith("test::"):
        lines.append("")
        lines.append("**Test double (`test::uniform`): random grammar-valid rows; "
                     "these numbers check the plumbing only, not the method.**")
    return "\n".join(lines)


def rows_summary(df) -> str:
    """Markdown: rows requested/added, seconds and notes per method."""
    per = df.drop_duplicates(subset=["dataset", "setting", "size", "seed", "method"])
    g = per.groupby("method", observed=True).agg(
        requested=("rows_requested", "mean"), added=("rows_added", "mean"),
        seconds=("seconds", "mean"), cells=("seed", "size"))
    lines = ["| method | rows requested (mean) | rows added (mean) | "
             "seconds per D_ori (mean) | runs |", "|---|---|---|---|---|"]
    for m, r in g.iterrows():
        lines.append(f"| {m} | {r['requested']:.1f} | {r['added']:.1f} | "
                     f"{r['seconds']:.1f} | {int(r['cells'])} |")
    notes = per[per["note"].fillna("") != ""]
    if len(notes):
        lines += ["", "Notes (first per method):", ""]
        for m, sub in notes.groupby("method", observed=True):
            lines.append(f"- {m} ({len(sub)} runs): {sub['note'].iloc[0]}")
    return "\n".join(lines)


def method_colors() -> dict:
    """Method -> colour: tab10 in :data:`METHOD_ORDER`, cycling after 10."""
    import matplotlib.pyplot as plt

    tab = plt.cm.tab10.colors
    return {m: tab[i % len(tab)] for i, m in enumerate(METHOD_ORDER)}


def plot_vs_size(df, metric, panels, path, title, panel_col="setting",
                 ylabel="AUC (%)", scale=100.0):
    """Figs. 3/4/10 style: ``metric`` vs D_ori size, one line per method,
    band = ± std over seeds (per-seed average over models unless the panel
    column is ``model``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6),
                             squeeze=False)
    methods = [m for m in METHOD_ORDER if m in set(df["method"])]
    colors = method_colors()
    for ax, panel in zip(axes[0], panels):
        sub = df[df[panel_col] == panel]
        for m in methods:
            s = sub[sub["method"] == m]
            if s[metric].notna().sum() == 0:
                continue
            per_seed = s.groupby(["size", "seed"])[metric].mean().reset_index()
            agg = per_seed.groupby("size")[metric].agg(["mean", "std"]) * scale
            x = agg.index.to_numpy()
            ax.plot(x, agg["mean"], marker="o", ms=3, label=m, color=colors[m])
            ax.fill_between(x, agg["mean"] - agg["std"].fillna(0),
                            agg["mean"] + agg["std"].fillna(0), alpha=0.15,
                            color=colors[m])
        ax.set_title(str(panel))
        ax.set_xlabel("size of D_ori")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_bars(df, metric, groups, path, title, group_col="setting", ylabel="AUC (%)",
              scale=100.0):
    """Grouped bars (mean ± std over seeds) for single-size settings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [m for m in METHOD_ORDER if m in set(df["method"])]
    colors = method_colors()
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(groups) * max(1, len(methods)) / 4,
                                    3.6))
    width = 0.8 / max(1, len(methods))
    for i, m in enumerate(methods):
        means, stds = [], []
        for g in groups:
            s = df[(df[group_col] == g) & (df["method"] == m)]
            per_seed = s.groupby("seed")[metric].mean() * scale
            means.append(per_seed.mean())
            stds.append(per_seed.std())
        x = np.arange(len(groups)) + i * width - 0.4 + width / 2
        ax.bar(x, means, width, yerr=np.nan_to_num(stds), label=m, color=colors[m],
               capsize=2)
    ax.set_xticks(np.arange(len(groups)))
    ax.set_xticklabels([str(g) for g in groups])
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_md(cfg: Config, name: str, text: str) -> Path:
    path = cfg.out / f"{name}.md"
    path.write_text(text.rstrip() + "\n")
    print(f"wrote {path}")
    return path


# -- pieces shared by the varying-size tables (3, 4, 5, 7) -----------------------------
#: ``--quick`` of tables 3, 4, 5 and 7: CLLM left out (its generation is a
#: second LLM stream; the two skteam variants share one), so a CPU smoke run
#: costs one generation per cell. ``--methods`` brings it back.
QUICK_METHODS = ("D_ori", "SMOTE", "skteam (no QC)", "skteam")

#: T² appendix C: rows per batch (10 for Diabetes and Drug, 20 for
#: TravelBehavior and COMPAS); with a varying D_ori "the number of generated
#: batches ... is set equal to the size of the original dataset" and "no
#: additional batches are added after trimming". The harness reads this as:
#: ask for as many rows as D_ori has (``n_add = size``) and generate exactly the
#: batches that needs (``--max-batches-factor 1 --extra-batches 0``), so the QC
#: can only remove rows.
PAPER_BATCH = {"Diabetes": 10, "Drug": 10, "TravelBehavior": 20, "COMPAS": 20}
NO_REFILL = {"max_batches_factor": 1, "extra_batches": 0}


def context(descriptions: dict, X: pd.DataFrame, dataset: str, target: str,
            classes=None) -> dict:
    """Prompt context for :class:`Cell`: descriptions of ``X``'s columns only."""
    ctx = {"feature_descriptions": {c: descriptions[c] for c in X.columns
                                    if c in descriptions},
           "dataset_description": f"{dataset}; the label is: {target}."}
    if classes is not None:
        ctx["classes"] = list(classes)
    return ctx


def balanced_draw(y, n: int, rng) -> np.ndarray:
    """Positions of ``n`` rows with the classes as equal as possible (the
    leftover rows go to the classes that sort first)."""
    y = np.asarray(y)
    classes = np.unique(y)
    base, extra = divmod(int(n), len(classes))
    picks = []
    for i, c in enumerate(classes):
        pos = np.flatnonzero(y == c)
        picks.append(rng.choice(pos, size=base + (i < extra), replace=False))
    return np.sort(np.concatenate(picks))


def real_data_cells(name, X, y, sizes, seeds, *, n_test, balanced, ctx, note=""):
    """Cells on a real table: a stratified test set of ``n_test`` rows is held
    out per seed, then D_ori of each size is drawn from the rest (stratified,
    or class-balanced when ``balanced``); ``n_add = size``. Sizes larger than
    the rows left are skipped (returned in the second value)."""
    from sklearn.model_selection import train_test_split

    X = X.reset_index(drop=True)
    y = y.reset_index(drop=True)
    out, skipped = [], []
    for seed in seeds:
        X_pool, X_te, y_pool, y_te = train_test_split(
            X, y, test_size=n_test, stratify=y, random_state=seed + TEST_SEED_OFFSET)
        X_pool, y_pool = X_pool.reset_index(drop=True), y_pool.reset_index(drop=True)
        for size in sizes:
            if size > len(X_pool):
                skipped.append(size)
                continue
            rng = np.random.RandomState(seed)
            if balanced:
                idx = balanced_draw(y_pool, size, rng)
            elif size == len(X_pool):
                idx = np.arange(size)
            else:
                idx, _ = train_test_split(np.arange(len(y_pool)), train_size=size,
                                          stratify=y_pool, random_state=seed)
                idx = np.sort(idx)
            out.append(Cell(name, name, size, seed,
                            X_pool.iloc[idx].reset_index(drop=True),
                            y_pool.iloc[idx].reset_index(drop=True),
                            X_te.reset_index(drop=True), y_te.reset_index(drop=True),
                            size, ctx))
    return out, sorted(set(skipped))


def drug_compas_cells(cfg, sizes_drug, sizes_compas, datasets=("Drug-A", "Drug-B",
                                                               "COMPAS")):
    """T² §3.3 cells: Drug-A / Drug-B (100 stratified test rows, stratified
    D_ori) and COMPAS (500 stratified test rows, class-balanced D_ori)."""
    from skteam.datasets import (
        COMPAS_DESCRIPTIONS,
        DRUG_DESCRIPTIONS,
        DRUG_SUBGROUPS,
        TARGET_DESCRIPTIONS,
        load_compas,
        load_drug,
    )

    cells, skipped = [], {}
    for name in datasets:
        if name == "COMPAS":
            X, y = load_compas()
            ctx = context(COMPAS_DESCRIPTIONS, X, "One row is a defendant screened "
                          "with COMPAS in Broward County, Florida, 2013-2014",
                          TARGET_DESCRIPTIONS["two_year_recid"])
            c, s = real_data_cells(name, X, y, sizes_compas, cfg.seeds, n_test=500,
                                   balanced=True, ctx=ctx)
        else:
            X, y = load_drug(subgroup=name)
            ctx = context(DRUG_DESCRIPTIONS, X, "One row is a survey respondent of "
                          "the UCI Drug Consumption study (" + ", ".join(
                              f"{k} {v}" for k, v in DRUG_SUBGROUPS[name].items())
                          + ")",
                          TARGET_DESCRIPTIONS["Nicotine"])
            c, s = real_data_cells(name, X, y, sizes_drug, cfg.seeds, n_test=100,
                                   balanced=False, ctx=ctx)
        cells += c
        if s:
            skipped[name] = s
    return cells, skipped


BINARY_METRICS = (("AUC", "auc"), ("accuracy", "accuracy"), ("F1", "f1"),
                  ("recall", "recall"))


def setting_table(df, settings, metric="auc"):
    """Paper Table 3/4 layout: one row per method, one column per setting,
    mean ± std over seeds of ``metric`` (per seed: averaged over the models
    and, where a setting has several D_ori sizes, over the sizes)."""
    cols = [(str(s), s) for s in settings]
    fn = metric_cell(metric)
    return md_table(df, ["method"], cols,
                    lambda sub, s: fn(sub[sub["setting"] == s], None))


def metrics_by_setting(df, settings, metrics=BINARY_METRICS):
    """Paper Table 7 layout: rows setting × method, columns the metrics."""
    df = df[df["setting"].isin(settings)].copy()
    df["setting"] = pd.Categorical(df["setting"], list(settings), ordered=True)
    df = df.sort_values(["setting", "method"], kind="stable")
    return md_table(df, ["setting", "method"], list(metrics), metric_cell(),
                    index_names=["setting", "method"])


def size_table(df, metric="auc"):
    """Method × D_ori size (mean ± std over seeds, averaged over the models)."""
    sizes = sorted(df["size"].unique())
    fn = metric_cell(metric)
    return md_table(df, ["method"], [(str(s), s) for s in sizes],
                    lambda sub, s: fn(sub[sub["size"] == s], None))


def model_table(df, metric="auc"):
    """Method × downstream model (Fig. 10's per-model view)."""
    fn = metric_cell(metric)
    return md_table(df, ["method"], [(m, m) for m in MODELS],
                    lambda sub, m: fn(sub[sub["model"] == m], None))
