"""TrimQC: the three QC stages as one object, for rows from any generator."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ..constraints import ConstraintSet
from ..schema import Schema
from ..utils import resolve_seed, seed_estimator
from ..utils._docstring import QC_DOCSTRINGS, Substitution
from ..utils._validation import check_n_jobs
from ._encoding import as_frame, make_encoder, needs_encoding
from .cost import CostDuel, CostResult, check_predict_proba
from .curation import CurationResult, LearningDynamics
from .diversity import DiversityCheck, DiversityResult
from .record import (
    QC_STAGES,
    REPORT_COLUMNS,
    STAGES,
    batch_record,
    check_stages,
    default_estimator,
)
from .sanity import drop_copies, row_keys, sanity_check


@dataclass
class BatchVerdict:
    """What the QC did to one batch.

    Attributes
    ----------
    keep : ndarray of bool, shape (n_batch,)
        Rows of the batch that join the data.
    sane : ndarray of bool, shape (n_batch,)
        Rows that passed the sanity stage (every row when it did not run).
    accepted : bool
        Whether some row of the batch joins the data (the batch passed every
        stage that ran).
    dropped : dict of str to int
        ``{"sanity": n, "curation": n, "cost": n, "diversity": n}``: rows each stage
        removed (a row is counted by the first stage that removes it).
    sanity_rules : dict of str to int
        Sanity rule -> rows failing it (a row may fail several).
    delta, tau : float
        The cost duel's ``Δ`` and ``τ``; NaN when it did not run.
    null_std : float
        The standard deviation of the bootstrap batches' information, so
        ``delta / null_std`` is the ``c`` up to which the batch wins the
        duel; NaN when the duel did not run.
    entropy_gain : float
        The diversity stage's gain (see :class:`DiversityResult`); NaN when
        it did not run.
    verdict : str
        One line: ``"accepted"`` / ``"rejected"`` and the stages' notes.
    cost : CostResult or None
    diversity : DiversityResult or None
    curation : CurationResult or None
        Full results of the stages that ran.
    costs : ndarray of float, shape (n_batch,)
        Each row's cost in the duel (NaN for rows it did not see).
    in_window : ndarray of bool or None, shape (n_batch,)
        Rows inside the duel's cost window; None when the duel did not run.
    """

    keep: np.ndarray
    accepted: bool
    sane: np.ndarray | None = None
    dropped: dict = field(default_factory=lambda: {s: 0 for s in QC_STAGES})
    sanity_rules: dict = field(default_factory=dict)
    delta: float = np.nan
    tau: float = np.nan
    null_std: float = np.nan
    entropy_gain: float = np.nan
    verdict: str = ""
    cost: CostResult | None = None
    diversity: DiversityResult | None = None
    curation: CurationResult | None = None
    costs: np.ndarray | None = None
    in_window: np.ndarray | None = None


@Substitution(**QC_DOCSTRINGS)
class TrimQC(BaseEstimator):
    """The team-then-trim quality control, usable on rows from any generator.

    Three stages trim each batch of generated rows (paper §2.2), and an
    optional fourth, ``"curation"``, runs after the sanity stage when asked:

    1. **sanity**: types, bounds, integer-ness, categories and the user
       ``constraints``; violating rows are dropped;
    2. **cost**: a duel against bootstrap batches of the real data with the
       downstream ``estimator``; the batch is accepted when its trimmed rows
       bring more task information than real rows resampled, by more than
       ``τ = mean + cost_c·std`` of the same duel between two bootstrap
       batches; only the generated rows whose cost lies in the window
       ``[F⁻¹(β), F⁻¹(β + 0.5)]`` are kept;
    3. **diversity**: the batch must raise the entropy of the cluster labels
       of ``D_ori`` (KMeans, ``k`` in {3, 4, 5} by silhouette) by at least
       ``diversity_threshold`` of what a batch of its size could achieve.

    The optional **curation** stage (CLLM, arXiv 2312.12112) drops each
    row that a boosted model of ``D_ori`` does not find easy (see
    ``curation_threshold``).

    Parameters
    ----------
    {estimator}
    stages : tuple of str, default=("sanity", "cost", "diversity")
        The stages to run, any subset of ``("sanity", "curation", "cost",
        "diversity")`` (they run in that order); ``()`` keeps every row.
    {cost_beta}
    {cost_c}
    {cost_null_draws}
    {n_jobs}
    {diversity_threshold}
    {copies}
    {curation_threshold}
    constraints : list of str, default=None
        Relations between columns, e.g. ``["priors_count >= juv_fel_count",
        "0 <= BMI <= 80"]``; see :mod:`skteam.constraints`.
    schema : Schema, default=None
        Column kinds, bounds and categories; inferred from the data given to
        :meth:`fit` when None.
    random_state : int, RandomState instance or None, default=None
        Seeds the bootstrap batches, the null draws, KMeans and the MLP.

    Attributes
    ----------
    schema_ : Schema
        The schema used.
    constraints_ : ConstraintSet
        The parsed constraints.
    cost_duel_ : CostDuel or None
        The cost stage (None when it is not in ``stages``).
    diversity_ : DiversityCheck or None
        The fitted diversity stage (None when it is not in ``stages``).
    curation_ : LearningDynamics or None
        The fitted curation stage (None when it is not in ``stages``).
    n_clusters_ : int or None
        Clusters of the diversity stage.

    See Also
    --------
    skteam.TeamTrimSampler : generation with a team of LLM workers, then
        this QC.

    Examples
    --------
    >>> from imblearn.over_sampling import SMOTE
    >>> from sklearn.datasets import make_classification
    >>> from skteam import TrimQC
    >>> X, y = make_classification(n_samples=80, n_features=4, weights=[0.8],
    ...                            random_state=0)
    >>> X_s, y_s = SMOTE(random_state=0).fit_resample(X, y)
    >>> qc = TrimQC(cost_null_draws=50, random_state=0).fit(X, y)
    >>> X_kept, y_kept, report = qc.filter(X_s[len(X):], y_s[len(X):])
    >>> list(report.columns[:4])
    ['batch', 'class', 'n_generated', 'dropped_sanity']
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "stages": [tuple, list],
        "cost_beta": [Interval(numbers.Real, 0, 0.5, closed="neither")],
        "cost_c": [Interval(numbers.Real, None, None, closed="neither")],
        "cost_null_draws": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_jobs": [numbers.Integral, None],
        "diversity_threshold": [Interval(numbers.Real, 0, 1, closed="both")],
        "copies": [StrOptions({"keep", "drop"})],
        "curation_threshold": [Interval(numbers.Real, 0, 1, closed="both")],
        "constraints": [list, tuple, str, None],
        "schema": [Schema, None],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, stages=STAGES, cost_beta=0.25, cost_c=0.0,
                 cost_null_draws=1000, n_jobs=None, diversity_threshold=0.3,
                 copies="keep", curation_threshold=0.2, constraints=None, schema=None,
                 random_state=None):
        self.estimator = estimator
        self.stages = stages
        self.cost_beta = cost_beta
        self.cost_c = cost_c
        self.cost_null_draws = cost_null_draws
        self.n_jobs = n_jobs
        self.diversity_threshold = diversity_threshold
        self.copies = copies
        self.curation_threshold = curation_threshold
        self.constraints = constraints
        self.schema = schema
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------------

    def fit(self, X, y):
        """Learn the schema, constraints, encoding and clusters of ``D_ori``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_features)
            The original data ``D_ori`` (arrays get columns ``"0", "1", …``
            unless ``schema`` names them).
        y : array-like of shape (n_rows,)

        Returns
        -------
        self
        """
        self._validate_params()
        check_n_jobs(self.n_jobs)
        stages = check_stages(self.stages)
        self._stages = stages
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-dimensional; got shape {y.shape}.")
        if len(y) == 0:
            raise ValueError("TrimQC.fit needs at least one row of D_ori.")
        self.schema_ = self.schema if self.schema is not None else Schema.infer(X, y)
        self._frame_input = isinstance(X, pd.DataFrame)
        X_ori = as_frame(X, self.schema_, what="X")
        if len(X_ori) != len(y):
            raise ValueError(f"X has {len(X_ori)} rows but y has {len(y)}.")
        self._X_ori, self._y_ori = X_ori, y
        self._ori_rows = set(row_keys(X_ori))
        self.constraints_ = ConstraintSet(self.constraints, self.schema_)
        seed = resolve_seed(self.random_state)
        self._seed = seed

        self.cost_duel_ = None
        if "cost" in stages:
            if self.estimator is None:
                estimator = default_estimator()
                seed_estimator(estimator, seed)
            else:
                estimator = self.estimator
            check_predict_proba(estimator)
            self._encoded = needs_encoding(self.schema_)
            if self._encoded:
                # one encoder fitted on D_ori and frozen: identical to
                # make_pipeline(frozen encoder, clone(estimator)), encoded once
                self._encoder = make_encoder(self.schema_).fit(X_ori)
            self.cost_duel_ = CostDuel(clone(estimator), beta=self.cost_beta,
                                       c=self.cost_c, n_null=self.cost_null_draws,
                                       random_state=seed, n_jobs=self.n_jobs)
            self._M_ori = self._model_view(X_ori)

        self.curation_ = None
        if "curation" in stages:
            self.curation_ = LearningDynamics(
                self.curation_threshold, self.curation_threshold,
                random_state=seed).fit(X_ori, y, self.schema_)

        self.diversity_ = None
        self.n_clusters_ = None
        if "diversity" in stages:
            self.diversity_ = DiversityCheck(self.diversity_threshold,
                                             random_state=seed)
            self.diversity_.fit(X_ori, self.schema_, y)
            self.n_clusters_ = self.diversity_.n_clusters_
        return self

    def _model_view(self, X: pd.DataFrame):
        """The rows as the cost-duel estimator sees them."""
        if self._encoded:
            return self._encoder.transform(X)
        if self._frame_input and self.estimator is not None:
            return X  # a user's estimator may select columns by name
        # the default estimator reads values only, and sklearn fits an array
        # in half the time of a frame (which matters once per null draw)
        return X.to_numpy(dtype=float)

    def _check_fitted(self):
        if not hasattr(self, "schema_"):
            raise AttributeError(
                "This TrimQC is not fitted yet; call fit(X_ori, y_ori) first."
            )

    # -- one batch -----------------------------------------------------------------

    def trim_batch(self, X_batch, y_batch, X_current=None, y_current=None,
                   target=None) -> BatchVerdict:
        """Run the stages on one batch of generated rows.

        Parameters
        ----------
        X_batch : DataFrame or array-like of shape (n_batch, n_features)
            The generated rows ``D_t``.
        y_batch : array-like of shape (n_batch,)
            Their labels.
        X_current, y_current : DataFrame or array-like, default=None
            The data ``D`` the batch would join (the cost duel fits ``f`` on
            it); ``None`` means ``D_ori``.
        target : class label, default=None
            The class the batch was generated for; the diversity stage then
            compares cluster entropies within that class of ``D_ori``. When
            None, a batch whose kept rows share one label uses that label,
            and a mixed batch is compared with all of ``D_ori``.

        Returns
        -------
        verdict : BatchVerdict
        """
        self._check_fitted()
        X_b = as_frame(X_batch, self.schema_, what="X_batch")
        y_b = np.asarray(y_batch)
        n = len(y_b)
        if len(X_b) != n:
            raise ValueError(f"X_batch has {len(X_b)} rows but y_batch has {n}.")
        keep = np.ones(n, dtype=bool)
        out = BatchVerdict(keep, False, sane=keep.copy())
        notes = []
        stages = self._stages
        if n == 0:
            out.keep, out.verdict = keep, "rejected: empty batch"
            return out

        if "sanity" in stages:
            res = sanity_check(X_b, self.schema_, self.constraints_)
            if self.copies == "drop":
                res = drop_copies(res, row_keys(X_b), self._ori_rows)
            out.sanity_rules = res.dropped_by_rule
            out.dropped["sanity"] = int((~res.keep).sum())
            keep = keep & res.keep
            out.sane = keep.copy()
            if out.dropped["sanity"]:
                worst = max(res.dropped_by_rule, key=res.dropped_by_rule.get)
                notes.append(f"sanity dropped {out.dropped['sanity']} "
                             f"(most: {worst!r})")
            if not keep.any():
                notes.append("no row passed the sanity check")

        if "curation" in stages and keep.any():
            idx = np.flatnonzero(keep)
            res = self.curation_.evaluate(X_b.iloc[idx], y_b[idx])
            out.curation = res
            new_keep = np.zeros(n, dtype=bool)
            new_keep[idx[res.keep]] = True
            out.dropped["curation"] = int((keep & ~new_keep).sum())
            keep = new_keep
            notes.append(f"curation kept {int(res.keep.sum())} of {len(idx)}")

        if "cost" in stages and keep.any():
            idx = np.flatnonzero(keep)
            if X_current is None:
                M_D, y_D = self._M_ori, self._y_ori
            else:
                M_D = self._model_view(as_frame(X_current, self.schema_,
                                                what="X_current"))
                y_D = np.asarray(y_current)
            res = self.cost_duel_.evaluate(M_D, y_D, self._M_ori, self._y_ori,
                                           self._model_view(X_b.iloc[idx]), y_b[idx])
            out.cost = res
            out.delta, out.tau, out.null_std = res.delta, res.tau, res.null_std
            out.costs = np.full(n, np.nan)
            out.in_window = np.zeros(n, dtype=bool)
            if res.costs is not None:
                out.costs[idx] = res.costs
            if res.in_window is not None:
                out.in_window[idx] = res.in_window
            new_keep = np.zeros(n, dtype=bool)
            new_keep[idx[res.keep]] = True
            out.dropped["cost"] = int((keep & ~new_keep).sum())
            keep = new_keep
            notes.append(f"cost {res.verdict}")

        if "diversity" in stages and keep.any():
            label = target
            if label is None:
                labels = np.unique(y_b[keep])
                label = labels[0] if len(labels) == 1 else None
            res = self.diversity_.evaluate(X_b[keep], target=label)
            out.diversity = res
            out.entropy_gain = res.gain
            if not res.accepted:
                out.dropped["diversity"] = int(keep.sum())
                keep = np.zeros(n, dtype=bool)
            notes.append(f"diversity {res.verdict}")

        out.keep = keep
        out.accepted = bool(keep.any())
        if not stages:
            head = "accepted (no QC)"
        else:
            head = "accepted" if out.accepted else "rejected"
        out.verdict = "; ".join([head] + notes)
        return out

    # -- a stream of rows ----------------------------------------------------------

    def filter(self, X_gen, y_gen, batch_size=10):
        """Trim rows from any generator, batch by batch, growing ``D`` as it goes.

        The rows are cut into consecutive batches of ``batch_size``; each is
        judged by :meth:`trim_batch` against the current data ``D``
        (``D_ori`` plus the rows accepted so far), and its kept rows join
        ``D`` before the next batch. This runs the QC apart from generation,
        e.g. on SMOTE's output.

        Parameters
        ----------
        X_gen : DataFrame or array-like of shape (n_rows, n_features)
            Generated rows (e.g. the new rows of
            ``SMOTE().fit_resample(X, y)``).
        y_gen : array-like of shape (n_rows,)
        batch_size : int, default=10
            ``n_b``.

        Returns
        -------
        X_kept : DataFrame or ndarray
            The kept rows (same type as ``X_gen``; a frame keeps its index).
        y_kept : ndarray
        report : DataFrame
            One row per batch with the columns ``batch``, ``class`` (the
            label of a single-class batch, else ``"mixed"``),
            ``n_generated``, ``dropped_sanity``, ``dropped_cost``,
            ``dropped_diversity``, ``kept``, ``delta``, ``tau``,
            ``null_std``, ``entropy_gain`` and ``verdict``.
        """
        self._check_fitted()
        if not (isinstance(batch_size, numbers.Integral) and batch_size >= 1):
            raise ValueError(f"batch_size must be a positive int; got {batch_size!r}.")
        X_all = as_frame(X_gen, self.schema_, what="X_gen")
        y_all = np.asarray(y_gen)
        if len(X_all) != len(y_all):
            raise ValueError(f"X_gen has {len(X_all)} rows but y_gen has {len(y_all)}.")
        X_D, y_D = self._X_ori, self._y_ori
        kept_idx, records = [], []
        for b, start in enumerate(range(0, len(y_all), batch_size)):
            X_b = X_all.iloc[start:start + batch_size].reset_index(drop=True)
            y_b = y_all[start:start + batch_size]
            v = self.trim_batch(X_b, y_b, X_D, y_D)
            classes = pd.unique(pd.Series(y_b))
            records.append(batch_record(
                v, batch=b, n_generated=len(y_b), kept=int(v.keep.sum()),
                **{"class": classes[0] if len(classes) == 1 else "mixed"}))
            idx = np.flatnonzero(v.keep)
            if len(idx):
                kept_idx.extend(start + idx)
                X_D = pd.concat([X_D, X_b.iloc[idx]], ignore_index=True)
                y_D = np.concatenate([y_D, y_b[idx]])
        kept_idx = np.asarray(kept_idx, dtype=int)
        report = pd.DataFrame(records, columns=REPORT_COLUMNS)
        if isinstance(X_gen, pd.DataFrame):
            X_kept = X_gen.iloc[kept_idx]
        else:
            X_kept = np.asarray(X_gen)[kept_idx]
        return X_kept, y_all[kept_idx], report


__all__ = ["TrimQC", "BatchVerdict", "STAGES", "REPORT_COLUMNS"]
