"""QC stage 2: objective-related cost assessment, a duel with bootstrap batches.

Paper §2.2, Eqs. (5)–(7), for a class-imbalanced table. For a generated
batch ``D_t`` of ``n_b`` rows:

1. fit ``f`` (a clone of the user's estimator) on the current data ``D``;
2. draw a bootstrap batch ``B_t`` from ``D_ori`` with the batch's class
   counts (each row from the real rows of its class);
3. costs ``r_i = 1 − p_f(y_i | x_i)`` on ``D̃_t = D_t ∪ B_t`` (Eq. 5);
4. trim: the generated rows with ``r_i ≤ F⁻¹(β + 0.5)`` form ``D̄_t``
   (Eq. 6's upper bound; skteam keeps the easy rows below ``F⁻¹(β)``);
5. ``Δ = H(D ∪ D̄_t) − mean_j H(D ∪ B_j)`` (Eq. 7), where the ``B_j`` are
   bootstrap batches with the class counts of ``D̄_t``: the trimmed batch
   against real rows of its classes resampled (random over-sampling);
6. accept when ``Δ > τ = c·std_j H(D ∪ B_j)``.

``H`` is not defined by the paper. skteam uses the *task information* of a
training set: ``H(S)`` is the mean log-probability that a clone of ``f``
fitted on ``S`` gives to the true labels of the real rows ``D_ori``
(negative cross-entropy), cross-fitted over two fixed folds of ``D_ori`` so
that no real row, nor a bootstrap copy of it, is scored by a model that saw
it. Every added row is in one of the two fits only: a real row (or a copy
of one) in the fit that scores the other fold, any other row as its nearest
real row of its class, so a row that restates a real row is never in the
fit that scores that row. Larger ``H`` means ``S`` teaches ``f`` more about
the real task, so ``Δ > 0`` means the trimmed generated batch teaches more
than the average batch of real rows resampled. Why the duel matches
classes, compares with the mean of the bootstrap batches and keeps the easy
rows: ``docs/method.md``.

The bootstrap draws ``H(D ∪ B_j)`` are memoised per ``(D, D_ori,
estimator, class counts, seed)``; they do not depend on ``c`` or ``β``, so
a grid over either reuses them. Fits of ``f`` on ``D`` are memoised too.
By default the draws are consumed in stages (50, 75, 125, 200, 300, …
up to ``n_null``, each half again as many) and stop as soon as the
decision ``Δ > τ`` is clear (``|Δ − τ̂| > 3·SE(τ̂)``) or a tie
(``2·SE(τ̂) < 0.25·std``, after at least 200 draws); pass
``sequential=False`` for exactly ``n_null`` draws every time. With
``n_jobs``, the draws of one stage are split between joblib worker
processes; each draw is seeded by its index, so the draws are the same.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sklearn
from joblib import Parallel, delayed, effective_n_jobs
from scipy.spatial.distance import cdist
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from ..utils import resolve_seed
from ..utils._validation import check_n_jobs

#: Folds of ``D_ori`` in the cross-fitted information ``H``.
N_FOLDS = 2
#: Additive smoothing of probabilities inside ``H`` (bounds one row's log-loss
#: by ``log(1/λ) ≈ 6.9`` nats, e.g. for a class a fold model never saw).
PROB_SMOOTHING = 1e-3
#: Null draws used before the first sequential check.
SEQUENTIAL_START = 50
#: Each later stage holds this many times the draws so far (rounded up to a
#: multiple of 25, at most ``n_null``): 50, 75, 125, 200, 300, 450, …
SEQUENTIAL_GROWTH = 1.5
#: Sequential stop: the decision is clear when ``|Δ − τ̂| > z·SE(τ̂)``.
SEQUENTIAL_Z = 3.0
#: Sequential stop at the threshold: once ``τ̂`` is known to within
#: ``SEQUENTIAL_TIE·std`` (``SEQUENTIAL_TIE_Z·SE(τ̂) < SEQUENTIAL_TIE·std``),
#: a batch still undecided has ``Δ`` so near ``τ`` that a change of ``c`` by
#: about as much would flip it; more draws would only settle a coin toss (and
#: cost ten times a clear batch).
SEQUENTIAL_TIE = 0.25
#: Confidence of that precision: 2 standard errors (95 %).
SEQUENTIAL_TIE_Z = 2.0
#: Fewest draws behind a tie: below, the skewness and kurtosis in
#: ``SE(τ̂)`` rest on too few draws, and at ``c ≈ 0`` a batch at ``τ`` is
#: decided by as many draws as with a tie at ``3·SE``.
SEQUENTIAL_TIE_MIN = 200
#: Fewest null draws worth sending to worker processes (with ``n_jobs``);
#: a draw takes a few milliseconds, a round trip to the workers about as
#: long as ten.
PARALLEL_MIN_DRAWS = 20


class _LRU:
    """A small thread-safe least-recently-used dict."""

    def __init__(self, size):
        self.size = size
        self._data = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, value):
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self):
        with self._lock:
            self._data.clear()

    def __len__(self):
        return len(self._data)


_NULL_CACHE = _LRU(256)
_FIT_CACHE = _LRU(16)


def clear_cache() -> None:
    """Forget every memoised null distribution and fit of ``f`` on ``D``."""
    _NULL_CACHE.clear()
    _FIT_CACHE.clear()


# -- results and the window ------------------------------------------------------


@dataclass
class CostResult:
    """Outcome of the cost duel for one batch.

    Attributes
    ----------
    keep : ndarray of bool, shape (n_batch,)
        Generated rows that join the data: the trimmed rows ``D̄_t`` when
        the batch is accepted, none otherwise.
    delta : float
        ``Δ = H(D ∪ D̄_t) − mean_j H(D ∪ B_j)``; NaN when the duel was
        skipped.
    tau : float
        ``τ = c·null_std``; NaN when skipped.
    null_mean, null_std : float
        Mean and standard deviation (``ddof=1``) of the bootstrap batches'
        information ``H(D ∪ B_j)`` over the draws used.
    accepted : bool
        ``Δ > τ`` (True when the duel was skipped, see ``verdict``).
    in_window : ndarray of bool, shape (n_batch,)
        Generated rows kept by the trim (``D̄_t``), whatever the verdict.
    n_null_used : int
        Bootstrap draws behind ``τ`` (``n_null`` unless the sequential
        rule stopped early).
    verdict : str
        One line for reports.
    costs : ndarray of float, shape (n_batch,) or None
        ``r_i = 1 − p_f(y_i | x_i)`` of each generated row (Eq. 5); None when
        the duel was skipped.
    """

    keep: np.ndarray
    delta: float
    tau: float
    null_mean: float
    null_std: float
    accepted: bool
    in_window: np.ndarray | None = None
    n_null_used: int = 0
    verdict: str = ""
    costs: np.ndarray | None = None


def inverse_ecdf(values, q: float) -> float:
    """``F⁻¹(q) = inf{e : F(e) ≥ q}`` for the empirical distribution of ``values``.

    Identical to ``numpy.quantile(values, q, method="inverted_cdf")``,
    written out so that ``q·n`` landing exactly on an integer is not lost to
    floating point (``F⁻¹(0.25)`` of 20 values is the 5th smallest).

    Parameters
    ----------
    values : array-like of float, shape (n,)
        The sample; must not be empty.
    q : float
        Probability level, in [0, 1].

    Returns
    -------
    quantile : float
        The smallest value ``e`` of ``values`` with ``F(e) ≥ q``.
    """
    s = np.sort(np.asarray(values, dtype=float))
    n = len(s)
    if n == 0:
        raise ValueError("F⁻¹ needs at least one value.")
    k = math.ceil(q * n - 1e-9 * n)
    return float(s[min(max(k, 1), n) - 1])


def cost_window(costs, beta: float, lower: bool = True) -> np.ndarray:
    """Rows whose cost lies in ``[F⁻¹(β), F⁻¹(β + 0.5)]`` (paper Eq. 6).

    Both bounds are inclusive, so ties at a bound are all kept: the window
    holds ``n/2 + 1`` of ``n`` distinct costs when ``β·n`` is an integer, and
    more when costs tie at a bound.

    Parameters
    ----------
    costs : array-like of float, shape (n,)
    beta : float in (0, 0.5)
    lower : bool, default=True
        Apply the lower bound ``F⁻¹(β)``; False keeps every row up to
        ``F⁻¹(β + 0.5)`` (the cost duel's trim).

    Returns
    -------
    mask : ndarray of bool, shape (n,)

    Examples
    --------
    >>> from skteam.qc import cost_window
    >>> cost_window([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], 0.25).astype(int)
    array([0, 1, 1, 1, 1, 1, 0, 0])
    """
    costs = np.asarray(costs, dtype=float)
    if len(costs) == 0:
        return np.zeros(0, dtype=bool)
    hi = costs <= inverse_ecdf(costs, beta + 0.5)
    return hi & (costs >= inverse_ecdf(costs, beta)) if lower else hi


# -- rows, hashes, folds -----------------------------------------------------------


def _canonical_X(X) -> np.ndarray:
    """Rows as float64 (object strings for non-numeric tables), for hashing."""
    try:
        if isinstance(X, pd.DataFrame):
            arr = X.to_numpy(dtype=float)
        else:
            arr = np.asarray(X, dtype=float)
        return arr + 0.0  # -0.0 -> 0.0
    except (TypeError, ValueError):
        arr = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
        return arr.astype(str).astype(object)


def _canonical_y(y) -> np.ndarray:
    try:
        return np.asarray(y, dtype=float) + 0.0
    except (TypeError, ValueError):
        return np.asarray(y).astype(str).astype(object)


def _row_keys(arr, y) -> np.ndarray:
    """One uint64 per row of ``(x, y)``; equal rows get equal keys.

    ``arr`` is the rows as :func:`_canonical_X` returns them.
    """
    if arr.ndim != 2:
        arr = arr.reshape(len(arr), -1)
    if len(arr) == 0:
        return np.zeros(0, dtype=np.uint64)
    hx = pd.util.hash_pandas_object(pd.DataFrame(arr), index=False).to_numpy()
    hy = pd.util.hash_array(_canonical_y(y))
    return hx ^ (hy * np.uint64(0x9E3779B97F4A7C15))


def _numeric(arr):
    """``arr`` (rows as :func:`_canonical_X` returns them) when every value
    is a finite number and there are rows, else None."""
    ok = arr.dtype != object and arr.ndim == 2 and len(arr) and np.isfinite(arr).all()
    return arr if ok else None


def nearest_real_fold(X, X_real, fold_real, span) -> np.ndarray:
    """Fold of the nearest real row of each row of ``X``.

    The distance is the L1 distance over columns divided by ``span`` (each
    column's range over ``D_ori``); a category mismatch of a one-hot block
    counts 2. For values within ``D_ori``'s ranges it ranks real rows as
    :func:`skteam.metrics.gower_distances` does; that function caps each
    column's term at 1 and reads text columns as categories, which this one
    does not. Ties go to the first real row.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    X_real : ndarray of shape (m, d), m >= 1
        Real rows of the same class.
    fold_real : ndarray of shape (m,)
        Their folds.
    span : ndarray of shape (d,)
        Positive column scales.

    Returns
    -------
    folds : ndarray of shape (n,)
    """
    d = cdist(X / span, X_real / span, metric="cityblock")
    return np.asarray(fold_real)[d.argmin(axis=1)]


def _digest(X, y, *, container=True) -> str:
    """Hash of the rows; with ``container``, also of what the estimator sees
    besides the values (frame column names and dtypes, or the array dtype)."""
    h = hashlib.sha1()
    if not container:
        pass
    elif isinstance(X, pd.DataFrame):
        h.update(repr([(str(c), str(t)) for c, t in X.dtypes.items()]).encode())
    else:
        h.update(f"array:{np.asarray(X).dtype}".encode())
    arr = _canonical_X(X)
    h.update(str(arr.shape).encode())
    h.update(np.ascontiguousarray(arr).tobytes() if arr.dtype != object
             else "\x1f".join(map(str, arr.ravel())).encode())
    yy = _canonical_y(y)
    h.update(yy.tobytes() if yy.dtype != object else "\x1f".join(yy).encode())
    return h.hexdigest()


def _estimator_token(estimator) -> str:
    try:
        from joblib import hash as joblib_hash

        return f"{type(estimator).__qualname__}:{joblib_hash(estimator)}"
    except Exception:  # unpicklable estimator: never share its cache entries
        return f"{type(estimator).__qualname__}:{id(estimator)}"


def _take(X, idx):
    if isinstance(X, pd.DataFrame):
        return X.iloc[idx]
    return X[idx]


def _concat(parts):
    if isinstance(parts[0], pd.DataFrame):
        return pd.concat(parts, ignore_index=True)
    return np.concatenate(parts, axis=0)


def _as_data(X):
    """Frames stay frames (the estimator sees X as given); the rest becomes arrays."""
    if isinstance(X, pd.DataFrame):
        return X.reset_index(drop=True)
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-dimensional; got shape {arr.shape}.")
    return arr


def check_predict_proba(estimator) -> None:
    """Raise an actionable TypeError when ``estimator`` has no ``predict_proba``."""
    if not hasattr(estimator, "predict_proba"):
        name = type(estimator).__name__
        raise TypeError(
            f"The cost duel needs class probabilities p_f(y|x), but {name} has no "
            f"predict_proba. Wrap it as sklearn.calibration.CalibratedClassifierCV"
            f"({name}(...)), use a probabilistic setting (e.g. SVC(probability="
            "True)), or leave the cost stage out (stages/qc=('sanity', "
            "'diversity'))."
        )


class _Fitted:
    """A fit of ``f``; degenerate training sets give constant predictions."""

    __slots__ = ("model", "label")

    def __init__(self, model=None, label=None):
        self.model, self.label = model, label

    def proba(self, X, classes) -> np.ndarray:
        n = len(X)
        out = np.zeros((n, len(classes)))
        if self.model is not None:
            cols = np.searchsorted(classes, self.model.classes_)
            out[:, cols] = self.model.predict_proba(X)
        elif self.label is not None:
            out[:, np.searchsorted(classes, self.label)] = 1.0
        else:  # no training rows at all
            out[:] = 1.0 / len(classes)
        return out


def _fit(estimator, X, y) -> _Fitted:
    if len(y) == 0:
        return _Fitted()
    labels = np.unique(y)
    if len(labels) == 1:
        return _Fitted(label=labels[0])
    return _Fitted(model=clone(estimator).fit(X, y))


# -- the duel --------------------------------------------------------------------


class _Duel:
    """Everything one ``evaluate`` call shares between the batch and the null."""

    def __init__(self, estimator, token, seed, X_D, y_D, X_ori, y_ori, classes):
        self.estimator, self.token, self.seed = estimator, token, seed
        self.X_D, self.y_D = X_D, y_D
        self.X_ori, self.y_ori = X_ori, y_ori
        self.classes = classes
        self.C = len(classes)
        self.n_ori = len(y_ori)
        self.digest_D = _digest(X_D, y_D)
        self.digest_ori = _digest(X_ori, y_ori)
        self.yidx_ori = np.searchsorted(classes, y_ori)
        self.rows_of_class = [np.flatnonzero(self.yidx_ori == c)
                              for c in range(self.C)]

        # folds of D_ori: stratified by class, duplicates of a row together
        arr_ori = _canonical_X(X_ori)
        keys = _row_keys(arr_ori, y_ori)
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        self.n_distinct = len(uniq)
        rng = np.random.default_rng([seed, 1])
        order = []
        label_of_uniq = self.yidx_ori[first]
        for c in np.unique(label_of_uniq):
            order.extend(rng.permutation(np.flatnonzero(label_of_uniq == c)))
        fold_uniq = np.empty(len(uniq), dtype=int)
        fold_uniq[np.asarray(order, dtype=int)] = np.arange(len(order)) % N_FOLDS
        self._uniq, self._fold_uniq = uniq, fold_uniq
        self.fold_ori = fold_uniq[inverse.ravel()]
        # numeric view of D_ori for the nearest-real-row folds of other rows
        self._num_ori = _numeric(arr_ori)
        if self._num_ori is not None:
            span = np.ptp(self._num_ori, axis=0)
            self._span = np.where(span > 0, span, 1.0)

    def folds_of(self, X, y) -> np.ndarray:
        """Fold of each row: that of the nearest real row of its class.

        An identical real row gives its fold. Any other row takes the fold
        of the real row of its class nearest in range-scaled L1 distance
        (:func:`nearest_real_fold`), so it trains one fold's model, as a
        real row does. -1 (trains both) is left only for a class ``D_ori``
        lacks, or for rows that are not numeric.
        """
        y = np.asarray(y)
        arr = _canonical_X(X)
        keys = _row_keys(arr, y)
        pos = np.searchsorted(self._uniq, keys)
        pos = np.minimum(pos, len(self._uniq) - 1)
        hit = self._uniq[pos] == keys
        folds = np.where(hit, self._fold_uniq[pos], -1)
        miss = np.flatnonzero(~hit)
        if len(miss) and self._num_ori is not None:
            X_miss = _numeric(arr[miss])
            if X_miss is not None:
                yidx = np.minimum(np.searchsorted(self.classes, y[miss]), self.C - 1)
                yidx[self.classes[yidx] != y[miss]] = -1  # a class the duel lacks
                for c in np.unique(yidx[yidx >= 0]):
                    real = self.rows_of_class[c]
                    rows = np.flatnonzero(yidx == c)
                    if len(real):
                        folds[miss[rows]] = nearest_real_fold(
                            X_miss[rows], self._num_ori[real], self.fold_ori[real],
                            self._span)
        return folds

    def prepare(self):
        """Fit ``f`` on ``D`` (memoised) and the per-fold training bases."""
        key = (self.digest_D, self.token)
        fitted = _FIT_CACHE.get(key)
        if fitted is None:
            fitted = _fit(self.estimator, self.X_D, self.y_D)
            _FIT_CACHE.put(key, fitted)
        self.f_D = fitted
        self.cost_ori = self.costs(self.X_ori, self.y_ori)
        fold_D = self.folds_of(self.X_D, self.y_D)
        self.base = []
        for k in range(N_FOLDS):
            train = fold_D != k
            ev = np.flatnonzero(self.fold_ori == k)
            self.base.append((_take(self.X_D, np.flatnonzero(train)), self.y_D[train],
                              _take(self.X_ori, ev), self.yidx_ori[ev]))

    def costs(self, X, y) -> np.ndarray:
        """``r_i = 1 − p_f(y_i | x_i)`` with ``f`` fitted on ``D`` (Eq. 5)."""
        if len(y) == 0:
            return np.zeros(0)
        P = self.f_D.proba(X, self.classes)
        return 1.0 - P[np.arange(len(y)), np.searchsorted(self.classes, y)]

    def information(self, X_add, y_add, fold_add) -> float:
        """``H(D ∪ S)``: cross-fitted mean log-probability of the real labels."""
        lam = PROB_SMOOTHING
        total = 0.0
        for k, (X_b, y_b, X_ev, yidx_ev) in enumerate(self.base):
            if len(yidx_ev) == 0:
                continue
            sel = np.flatnonzero(fold_add != k)
            if len(sel):
                X_tr = _concat([X_b, _take(X_add, sel)])
                y_tr = np.concatenate([y_b, y_add[sel]])
            else:
                X_tr, y_tr = X_b, y_b
            P = _fit(self.estimator, X_tr, y_tr).proba(X_ev, self.classes)
            p = P[np.arange(len(yidx_ev)), yidx_ev]
            total += float(np.log((p + lam) / (1.0 + self.C * lam)).sum())
        return total / self.n_ori

    def information_ori(self, idx) -> float:
        return self.information(_take(self.X_ori, idx), self.y_ori[idx],
                                self.fold_ori[idx])

    def bootstrap(self, rng, counts) -> np.ndarray:
        """Rows of ``D_ori`` drawn with replacement, ``counts[c]`` of class ``c``.

        A class that ``D_ori`` lacks is drawn from all of ``D_ori``; an int
        ``counts`` draws that many rows from all of ``D_ori``.
        """
        if isinstance(counts, numbers.Integral):
            return rng.integers(0, self.n_ori, counts)
        parts = []
        for c, m in enumerate(counts):
            if m:
                pool = self.rows_of_class[c]
                parts.append(pool[rng.integers(0, len(pool), m)] if len(pool)
                             else rng.integers(0, self.n_ori, m))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=int)

    def class_counts(self, y) -> tuple:
        return tuple(np.bincount(np.searchsorted(self.classes, y),
                                 minlength=self.C).tolist())

    def null_draw(self, counts, j) -> float:
        """``H(D ∪ B_j)`` of bootstrap batch ``j`` with class counts ``counts``."""
        rng = np.random.default_rng([self.seed, 2, *np.atleast_1d(counts), j])
        return self.information_ori(self.bootstrap(rng, counts))

    def null_draws(self, counts, start, stop) -> np.ndarray:
        """Draws ``start, …, stop − 1`` (:meth:`null_draw`).

        Without scikit-learn's parameter and finiteness checks, which the
        same estimator on the same kind of rows has passed when ``f`` was
        fitted on ``D`` (:meth:`prepare`): the draws fit it on ``D`` and
        real rows only. The fits are the same, about 10 % sooner (300
        draws of the default estimator on 48 rows: 1.44–1.47 s against
        1.61–1.74 s). The caller limits BLAS to one thread
        (:meth:`CostDuel.evaluate`, :meth:`CostDuel.null_distribution`, and
        :func:`_null_draws_in_worker` in a worker process).
        """
        with sklearn.config_context(assume_finite=True,
                                    skip_parameter_validation=True):
            return np.array([self.null_draw(counts, j) for j in range(start, stop)])


def _null_draws_in_worker(duel, counts, start, stop) -> np.ndarray:
    """:meth:`_Duel.null_draws` in a joblib worker, with one BLAS thread as
    in the parent (a loky worker would otherwise start ``cpu_count //
    n_jobs`` of them)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return duel.null_draws(counts, start, stop)


class CostDuel:
    """Objective-related cost assessment: a duel with bootstrap batches.

    Paper §2.2, Eqs. (5)–(7): the generated batch, trimmed to the rows whose
    cost under ``f`` is at most ``F⁻¹(β + 0.5)`` of the costs of the batch
    and a bootstrap batch ``B_t`` of its classes, must bring more task
    information than the average bootstrap batch of the same classes by
    more than ``τ = c·std``.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        The downstream model ``f``; cloned for every fit, never fitted in
        place. It receives the rows as given (arrays or frames); encode
        categorical columns beforehand (:class:`~skteam.TrimQC` does).
    beta : float in (0, 0.5), default=0.25
        The trim drops generated rows with cost above ``F⁻¹(β + 0.5)``.
    c : float, default=1.0
        ``τ = c·std`` of the bootstrap batches' information.
    n_null : int, default=1000
        Bootstrap draws (paper: 1000); the most used when
        ``sequential=True``.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds, the bootstrap batches and the null draws. An int
        makes every result reproducible (and shared through the cache);
        ``None`` draws a seed once per instance from fresh OS entropy. The
        global numpy random state is never used.
    sequential : bool, default=True
        Consume the null draws in stages (:func:`sequential_stages`: 50,
        75, 125, 200, … ``n_null``) and stop once ``|Δ − τ̂| > 3·SE(τ̂)``
        (the decision is clear) or, from 200 draws on, ``2·SE(τ̂) <
        0.25·std`` (``τ̂`` is known to a quarter of a null std at 95 %, and
        ``Δ`` lies within about as much of it: a tie, decided by the draws
        so far). The decision is the
        one all ``n_null`` draws would give, up to Monte Carlo error and ties;
        the draws are the same deterministic sequence either way.
    n_jobs : int, default=None
        Worker processes (joblib) that share the null draws of a stage;
        ``None`` means 1 unless in a :func:`joblib.parallel_config` context,
        ``-1`` all cores. The draws, and so every result, are the same for
        any value; only the time changes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skteam.qc import CostDuel
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3)); y = (X[:, 0] > 0).astype(int)
    >>> Xb = rng.normal(size=(10, 3)); yb = 1 - (Xb[:, 0] > 0)  # wrong labels
    >>> duel = CostDuel(LogisticRegression(), n_null=50, random_state=0)
    >>> duel.evaluate(X, y, X, y, Xb, yb).accepted
    False
    """

    def __init__(self, estimator, *, beta=0.25, c=1.0, n_null=1000, random_state=None,
                 sequential=True, n_jobs=None):
        self.estimator = estimator
        self.beta = beta
        self.c = c
        self.n_null = n_null
        self.random_state = random_state
        self.sequential = sequential
        self.n_jobs = n_jobs

    def _check(self):
        check_predict_proba(self.estimator)
        if not (isinstance(self.beta, numbers.Real) and 0 < self.beta < 0.5):
            raise ValueError(f"beta must be a float in (0, 0.5); got {self.beta!r}.")
        if not (isinstance(self.c, numbers.Real) and np.isfinite(self.c)):
            raise ValueError(f"c must be a finite number; got {self.c!r}.")
        if not (isinstance(self.n_null, numbers.Integral) and self.n_null >= 2):
            raise ValueError(f"n_null must be an int >= 2; got {self.n_null!r}.")
        check_n_jobs(self.n_jobs)

    def _seed(self) -> int:
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            return resolve_seed(rs)
        # None / RandomState: one seed per instance, so the cache still works
        if getattr(self, "_seed_from", object()) is not rs:
            self._resolved_seed, self._seed_from = resolve_seed(rs), rs
        return self._resolved_seed

    def _duel(self, X_D, y_D, X_ori, y_ori, y_batch=()):
        classes = np.unique(np.concatenate([np.asarray(y_D), np.asarray(y_ori),
                                            np.asarray(y_batch)]))
        return _Duel(self.estimator, _estimator_token(self.estimator), self._seed(),
                     X_D, np.asarray(y_D), X_ori, np.asarray(y_ori), classes)

    def null_distribution(self, X_D, y_D, X_ori, y_ori, n_batch, n_draws=None, *,
                          y_batch=None):
        """``H(D ∪ B_j)`` of the first ``n_draws`` bootstrap batches ``B_j``.

        Memoised per ``(D, D_ori, estimator, batch classes, seed)``; does not
        depend on ``c`` or ``β``. :meth:`evaluate` uses the draws with the
        class counts of its trimmed batch; the batch's ``Δ`` is its ``H``
        minus their mean.

        Parameters
        ----------
        X_D, y_D : array-like
            The current data ``D`` that ``f`` is fitted on.
        X_ori, y_ori : array-like
            The original data ``D_ori`` (bootstrap source, and the real rows
            on which ``H`` is measured).
        n_batch : int
            Rows per bootstrap batch (the size of the trimmed batch).
        n_draws : int, default=None
            Number of null draws; None uses ``n_null``.
        y_batch : array-like of shape (n_batch,), default=None
            Labels of the generated batch: each bootstrap batch then holds
            as many rows of each class, drawn from that class of ``D_ori``.
            None draws ``n_batch`` rows from all of ``D_ori``.

        Returns
        -------
        information : ndarray of shape (n_draws,)
        """
        self._check()
        n_draws = self.n_null if n_draws is None else int(n_draws)
        y_batch = () if y_batch is None else np.asarray(y_batch)
        if len(y_batch) and len(y_batch) != int(n_batch):
            raise ValueError(f"y_batch has {len(y_batch)} labels for n_batch="
                             f"{n_batch}.")
        duel = self._duel(_as_data(X_D), y_D, _as_data(X_ori), y_ori, y_batch)
        counts = duel.class_counts(y_batch) if len(y_batch) else int(n_batch)
        with threadpool_limits(limits=1, user_api="blas"):
            duel.prepare()
            return self._null(duel, counts, n_draws)

    def _null(self, duel, counts, n):
        key = (duel.digest_D, duel.digest_ori, duel.token, counts, duel.seed, N_FOLDS,
               PROB_SMOOTHING, tuple(duel.classes.tolist()))
        draws = _NULL_CACHE.get(key)
        have = 0 if draws is None else len(draws)
        if have < n:
            extra = self._draw(duel, counts, have, n)
            draws = extra if draws is None else np.concatenate([draws, extra])
            _NULL_CACHE.put(key, draws)
        return draws[:n]

    def _draw(self, duel, counts, start, stop) -> np.ndarray:
        """Null draws ``start … stop − 1``, split between ``n_jobs`` workers."""
        jobs = min(effective_n_jobs(self.n_jobs), (stop - start) // PARALLEL_MIN_DRAWS)
        if jobs <= 1:
            return duel.null_draws(counts, start, stop)
        cuts = np.linspace(start, stop, jobs + 1).astype(int)
        parts = Parallel(n_jobs=jobs)(
            delayed(_null_draws_in_worker)(duel, counts, lo, hi)
            for lo, hi in zip(cuts, cuts[1:]))
        return np.concatenate(parts)

    def evaluate(self, X_D, y_D, X_ori, y_ori, X_batch, y_batch) -> CostResult:
        """Duel one generated batch against bootstrap batches.

        Parameters
        ----------
        X_D, y_D : the current data ``D`` (initially ``D_ori``) that ``f`` is
            fitted on and that the batch would join.
        X_ori, y_ori : the original data ``D_ori`` (bootstrap source, and
            the real rows on which ``H`` is measured).
        X_batch, y_batch : the generated batch ``D_t`` (``n_b`` rows).

        Returns
        -------
        result : CostResult
            ``keep`` marks the trimmed generated rows ``D̄_t`` when
            ``Δ > τ``.
        """
        self._check()
        X_D, X_ori, X_batch = _as_data(X_D), _as_data(X_ori), _as_data(X_batch)
        y_D, y_ori, y_batch = np.asarray(y_D), np.asarray(y_ori), np.asarray(y_batch)
        n_b = len(y_batch)
        if len(X_batch) != n_b or len(X_D) != len(y_D) or len(X_ori) != len(y_ori):
            raise ValueError(
                "X and y of D, D_ori and the batch must have equal lengths; got "
                f"{len(X_D)}/{len(y_D)}, {len(X_ori)}/{len(y_ori)}, "
                f"{len(X_batch)}/{n_b}.")
        if len(y_ori) == 0:
            raise ValueError("D_ori is empty; the cost duel bootstraps from it.")
        if n_b == 0:
            empty = np.zeros(0, dtype=bool)
            return CostResult(empty, np.nan, np.nan, np.nan, np.nan, False, empty, 0,
                              "empty batch")
        everything = np.ones(n_b, dtype=bool)
        duel = self._duel(X_D, y_D, X_ori, y_ori, y_batch)
        if duel.C < 2:
            return CostResult(everything, np.nan, np.nan, np.nan, np.nan, True,
                              everything, 0, "skipped: one class only, p_f(y|x) = 1")
        if duel.n_distinct < N_FOLDS:
            return CostResult(everything, np.nan, np.nan, np.nan, np.nan, True,
                              everything, 0, f"skipped: D_ori has fewer than {N_FOLDS} "
                              "distinct rows, H cannot be cross-fitted")
        with threadpool_limits(limits=1, user_api="blas"):
            duel.prepare()
            # B_t: seeded by the batch itself, so it is reproducible and
            # independent of the order in which batches are evaluated
            tag = int(_digest(X_batch, y_batch, container=False)[:15], 16)
            counts = duel.class_counts(y_batch)
            b = duel.bootstrap(np.random.default_rng([duel.seed, 3, tag]), counts)
            costs = np.concatenate([duel.costs(X_batch, y_batch), duel.cost_ori[b]])
            in_window = cost_window(costs, self.beta, lower=False)[:n_b]
            gen = np.flatnonzero(in_window)
            X_add, y_add = _take(X_batch, gen), y_batch[gen]
            info = duel.information(X_add, y_add, duel.folds_of(X_add, y_add))
            n, null = self._sequential(duel, duel.class_counts(y_add), info)
        mean, std = float(null.mean()), float(null.std(ddof=1))
        delta, tau = info - mean, float(self.c) * std
        accepted = bool(delta > tau)
        verdict = (f"{'accepted' if accepted else 'rejected'}: Δ={delta:.4g} "
                   f"{'>' if accepted else '≤'} τ={tau:.4g} ({len(gen)} of {n_b} "
                   f"rows trimmed in, {n} bootstrap draws)")
        return CostResult(in_window & accepted, float(delta), tau, mean, std, accepted,
                          in_window, n, verdict, costs=costs[:n_b])

    def _sequential(self, duel, counts, delta):
        c = float(self.c)
        stages = sequential_stages(self.n_null) if self.sequential else [self.n_null]
        for n in stages:
            null = self._null(duel, counts, n)
            mean, std = null.mean(), null.std(ddof=1)
            se = _tau_se(null, c)
            if (abs(delta - (mean + c * std)) > SEQUENTIAL_Z * se
                    or (n >= SEQUENTIAL_TIE_MIN
                        and SEQUENTIAL_TIE_Z * se < SEQUENTIAL_TIE * std)):
                break
        return n, null


def sequential_stages(n_null) -> list:
    """Null draws after each stage of the sequential duel.

    ``SEQUENTIAL_START`` draws, then ``SEQUENTIAL_GROWTH`` times as many per
    stage, rounded up to a multiple of 25, ending at ``n_null``.

    Parameters
    ----------
    n_null : int
        The most draws.

    Returns
    -------
    stages : list of int
        Ascending; the last is ``n_null``.

    Examples
    --------
    >>> from skteam.qc.cost import sequential_stages
    >>> sequential_stages(1000)
    [50, 75, 125, 200, 300, 450, 675, 1000]
    """
    n_null = int(n_null)
    stages = [min(n_null, SEQUENTIAL_START)]
    while stages[-1] < n_null:
        grown = 25 * math.ceil(stages[-1] * SEQUENTIAL_GROWTH / 25)
        stages.append(min(n_null, grown))
    return stages


def _tau_se(draws, c) -> float:
    """Asymptotic standard error of ``mean + c·std`` of ``draws``.

    ``Var ≈ σ²/n · (1 + c·|γ| + c²(κ − 1)/4)`` with skewness ``γ`` and
    (non-excess) kurtosis ``κ`` of the draws; ``|γ|`` keeps it conservative.
    """
    n = len(draws)
    std = draws.std(ddof=1)
    if std == 0 or n < 3:
        return 0.0
    z = (draws - draws.mean()) / draws.std()
    skew = float(np.mean(z**3))
    kurt = float(np.mean(z**4))
    factor = 1.0 + c * abs(skew) + c * c * max(kurt - 1.0, 0.0) / 4.0
    return float(std * math.sqrt(factor / n))
