"""Quality metrics for synthetic tabular data (T² §3.3.2, Table 5).

- :func:`detection_score`: how well a classifier tells synthetic rows from
  real ones (cross-validated ROC AUC; 0.5 = indistinguishable, lower is
  better).
- :func:`alpha_precision_beta_recall`: the integrated alpha-precision and
  beta-recall of Alaa et al. (2022), computed as synthcity's
  ``AlphaPrecision`` does in its embedding-free ("naive") variant.
- :func:`distance_to_closest_record` and :func:`authenticity`: privacy
  checks, how close generated rows come to real records (Gower distance,
  :func:`gower_distances`), against held-out real rows as the reference.

Both accept mixed-type data: categorical columns (object, string, category or
bool dtype) are one-hot encoded over the categories seen in either table and
numeric columns are scaled with statistics of the *real* table only.
"""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import Bunch

from .utils import check_random_state

__all__ = ["detection_score", "alpha_precision_beta_recall", "gower_distances",
           "distance_to_closest_record", "authenticity"]


def _as_frame(X, name):
    if isinstance(X, pd.DataFrame):
        return X.reset_index(drop=True)
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-dimensional, got shape {arr.shape}.")
    return pd.DataFrame(arr)


def _is_categorical(col):
    dtype = col.dtype
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def _encode_pair(X_real, X_syn, scaling):
    """One-hot categoricals, scale numerics (fit on real); return two arrays."""
    real = _as_frame(X_real, "X_real")
    syn = _as_frame(X_syn, "X_syn")
    if len(real) < 2 or len(syn) < 2:
        raise ValueError("X_real and X_syn need at least 2 rows each.")
    if list(map(str, real.columns)) != list(map(str, syn.columns)):
        if set(map(str, real.columns)) != set(map(str, syn.columns)):
            raise ValueError(
                "X_real and X_syn must have the same columns; got "
                f"{list(real.columns)} and {list(syn.columns)}."
            )
        syn = syn[real.columns]
    real_parts, syn_parts = [], []
    for col in real.columns:
        r, s = real[col], syn[col]
        if r.isna().any() or s.isna().any():
            raise ValueError(f"Column {col!r} holds missing values.")
        if _is_categorical(r) or _is_categorical(s):
            r_str, s_str = r.astype(str).to_numpy(), s.astype(str).to_numpy()
            cats = np.array(sorted(set(r_str) | set(s_str)), dtype=object)
            real_parts.append((r_str[:, None] == cats[None, :]).astype(float))
            syn_parts.append((s_str[:, None] == cats[None, :]).astype(float))
            continue
        r_num = r.to_numpy(dtype=float)
        s_num = s.to_numpy(dtype=float)
        if not (np.isfinite(r_num).all() and np.isfinite(s_num).all()):
            raise ValueError(f"Column {col!r} holds non-finite values.")
        if scaling == "minmax":
            shift, scale = r_num.min(), r_num.max() - r_num.min()
        elif scaling == "standard":
            shift, scale = r_num.mean(), r_num.std()
        else:
            raise ValueError(
                f"scaling must be 'minmax' or 'standard', got {scaling!r}."
            )
        scale = scale if scale > 0 else 1.0
        real_parts.append(((r_num - shift) / scale)[:, None])
        syn_parts.append(((s_num - shift) / scale)[:, None])
    return np.hstack(real_parts), np.hstack(syn_parts)


def detection_score(X_real, X_syn, *, estimator=None, cv=5, random_state=None):
    """Detection score: cross-validated AUC of a real-vs-synthetic classifier.

    Real rows are labelled 0 and synthetic rows 1; a classifier is trained
    and scored by stratified ``cv``-fold cross-validation, and the mean test
    ROC AUC over folds is returned. This is synthcity's ``detection_*``
    procedure, which T² follows via Liu et al. (2023) (GOGGLE averages the
    XGBoost, MLP and GMM detectors; pass a list of estimators to average
    several). Convention: **0.5 means the synthetic rows are
    indistinguishable from real ones, 1.0 means perfectly separable; lower is
    better.** T²'s Table 5 reports this AUC in percent.

    Parameters
    ----------
    X_real : array-like or DataFrame of shape (n_real, n_features)
        Real rows. Categorical columns (object, string, category or bool
        dtype) are one-hot encoded; numeric columns are standardised with the
        real rows' mean and standard deviation.
    X_syn : array-like or DataFrame of shape (n_syn, n_features)
        Synthetic rows with the same columns.
    estimator : classifier, list of classifiers or None, default=None
        Classifier(s) with ``predict_proba`` or ``decision_function``; each is
        cloned. ``None`` uses
        ``GradientBoostingClassifier(random_state=...)`` (a stand-in for
        synthcity's default XGBoost detector). With a list, the scores of the
        estimators are averaged.
    cv : int, default=5
        Number of stratified folds; lowered to the size of the smaller table
        when that is smaller (at least 2 rows per table are needed).
    random_state : int, RandomState instance or None, default=None
        Seeds the fold shuffling and the default estimator. ``None`` uses a
        fresh seed from the operating system; NumPy's global random state is
        never read or advanced (estimators passed in keep their own
        ``random_state``).

    Returns
    -------
    score : float
        Mean cross-validated ROC AUC in [0, 1].

    References
    ----------
    .. [1] T. Liu, Z. Qian, J. Berrevoets and M. van der Schaar, "GOGGLE:
       Generative modelling for tabular data by learning relational
       structure", ICLR 2023.
    .. [2] Z. Qian, B.-C. Cebere and M. van der Schaar, "Synthcity:
       facilitating innovative use cases of synthetic data in different data
       modalities", NeurIPS 2023 Datasets and Benchmarks
       (``synthcity.metrics.eval_detection``).

    Examples
    --------
    >>> import numpy as np
    >>> from skteam.metrics import detection_score
    >>> rng = np.random.RandomState(0)
    >>> real, syn = rng.normal(size=(200, 3)), rng.normal(3, 1, size=(200, 3))
    >>> detection_score(real, syn, random_state=0) > 0.95
    True
    """
    if not isinstance(cv, Integral) or cv < 2:
        raise ValueError(f"cv must be an integer >= 2, got {cv!r}.")
    real, syn = _encode_pair(X_real, X_syn, "standard")
    data = np.vstack([real, syn])
    labels = np.r_[np.zeros(len(real), dtype=int), np.ones(len(syn), dtype=int)]
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    n_splits = min(int(cv), len(real), len(syn))
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    if estimator is None:
        estimators = [GradientBoostingClassifier(random_state=seed)]
    elif isinstance(estimator, (list, tuple)):
        estimators = [clone(e) for e in estimator]
    else:
        estimators = [clone(estimator)]
    scores = [
        cross_val_score(est, data, labels, cv=folds, scoring="roc_auc").mean()
        for est in estimators
    ]
    return float(np.mean(scores))


def alpha_precision_beta_recall(
    X_real, X_syn, *, n_alphas=30, scaling="minmax", return_curves=False
):
    """Integrated alpha-precision and beta-recall (Alaa et al., 2022).

    This mirrors synthcity's ``AlphaPrecision.metrics`` applied to scaled
    data (its ``*_naive`` outputs; the ``*_OC`` outputs additionally embed
    the data with a trained one-class network, which skteam does not do).
    With real rows ``R``, synthetic rows ``S`` and ``alphas`` = ``n_alphas``
    equally spaced values in [0, 1]:

    - *alpha-precision curve*: ``c_R`` is the mean of ``R`` and ``r_alpha``
      the alpha-quantile of the distances ``||R - c_R||``; ``P(alpha)`` is
      the share of synthetic rows with ``||s - c_R|| <= r_alpha`` (inside
      the real "alpha-support" hypersphere).
    - *beta-recall (coverage) curve*: for each real row ``r`` let ``s(r)`` be
      its nearest synthetic row and ``c_S`` the mean of ``S``; ``R(beta)`` is
      the share of real rows for which ``||r - s(r)||`` is at most the
      distance from ``r`` to its nearest other real row *and*
      ``||s(r) - c_S||`` is at most the beta-quantile of those distances
      over all real rows.
    - The integrated scores are ``1 - sum|alphas - P(alphas)| / sum(alphas)``
      and ``1 - sum|alphas - R(alphas)| / sum(alphas)``, clipped at 0.

    Note the scale of beta-recall: when ``S`` is an independent sample of
    the same distribution and as large as ``R``, each real row's nearest
    neighbour is synthetic with probability about 1/2, so ``R(beta)`` is
    about ``beta / 2`` and beta-recall about 0.5. Alpha-precision is then
    close to 1; a larger synthetic sample raises beta-recall. A synthetic
    sample covering only some of the real modes scores well below its
    alpha-precision, but at equal sizes not much below 0.5, since its covered
    modes are sampled more densely. (T²'s Table 5 reports values of this
    kind, in percent.)

    Parameters
    ----------
    X_real : array-like or DataFrame of shape (n_real, n_features)
        Real rows. Categorical columns (object, string, category or bool
        dtype) are one-hot encoded over the categories of both tables.
    X_syn : array-like or DataFrame of shape (n_syn, n_features)
        Synthetic rows with the same columns. Unlike synthcity, ``n_syn``
        may differ from ``n_real``.
    n_alphas : int, default=30
        Number of alpha (= beta) levels, as in synthcity.
    scaling : {"minmax", "standard"}, default="minmax"
        Scaling of numeric columns, fitted on the real rows: min-max to
        [0, 1] (synthcity's ``_normalize_covariates``) or z-scores.
    return_curves : bool, default=False
        If True, return a :class:`~sklearn.utils.Bunch` with the curves.

    Returns
    -------
    alpha_precision, beta_recall : float
        The integrated scores in [0, 1] (higher is better). If
        ``return_curves`` is True, a Bunch with keys ``alpha_precision``,
        ``beta_recall``, ``alphas``, ``alpha_precision_curve`` and
        ``beta_recall_curve`` instead.

    References
    ----------
    .. [1] A. Alaa, B. van Breugel, E. S. Saveliev and M. van der Schaar,
       "How faithful is your synthetic data? Sample-level metrics for
       evaluating and auditing generative models", ICML 2022.
    .. [2] Z. Qian, B.-C. Cebere and M. van der Schaar, "Synthcity:
       facilitating innovative use cases of synthetic data in different data
       modalities", NeurIPS 2023 Datasets and Benchmarks
       (``synthcity.metrics.eval_statistical.AlphaPrecision``, v0.2.12).

    Examples
    --------
    >>> import numpy as np
    >>> from skteam.metrics import alpha_precision_beta_recall
    >>> rng = np.random.RandomState(0)
    >>> real, syn = rng.normal(size=(300, 2)), rng.normal(size=(300, 2))
    >>> a, b = alpha_precision_beta_recall(real, syn)
    >>> a > 0.9, 0.35 < b < 0.65
    (True, True)
    """
    if not isinstance(n_alphas, Integral) or n_alphas < 2:
        raise ValueError(f"n_alphas must be an integer >= 2, got {n_alphas!r}.")
    real, syn = _encode_pair(X_real, X_syn, scaling)
    alphas = np.linspace(0.0, 1.0, int(n_alphas))

    center = real.mean(axis=0)
    radii = np.quantile(np.linalg.norm(real - center, axis=1), alphas)
    syn_to_center = np.linalg.norm(syn - center, axis=1)
    precision_curve = (syn_to_center[None, :] <= radii[:, None]).mean(axis=1)

    real_to_real = NearestNeighbors(n_neighbors=2).fit(real).kneighbors(real)[0][:, 1]
    real_to_syn, nearest = NearestNeighbors(n_neighbors=1).fit(syn).kneighbors(real)
    real_to_syn, nearest = real_to_syn[:, 0], nearest[:, 0]
    closest_d = np.linalg.norm(syn[nearest] - syn.mean(axis=0), axis=1)
    closest_radii = np.quantile(closest_d, alphas)
    covered = real_to_syn <= real_to_real
    recall_curve = (
        covered[None, :] & (closest_d[None, :] <= closest_radii[:, None])
    ).mean(axis=1)

    def integrate(curve):
        return float(max(0.0, 1.0 - np.abs(alphas - curve).sum() / alphas.sum()))

    a_prec, b_rec = integrate(precision_curve), integrate(recall_curve)
    if return_curves:
        return Bunch(
            alpha_precision=a_prec,
            beta_recall=b_rec,
            alphas=alphas,
            alpha_precision_curve=precision_curve,
            beta_recall_curve=recall_curve,
        )
    return a_prec, b_rec


# -- distance to the closest record -------------------------------------------


def gower_distances(X, X_ref, *, categorical=None):
    """Gower distances between the rows of ``X`` and those of ``X_ref``.

    The distance of two rows is the mean over columns of the range-scaled
    absolute difference for numbers (the range of ``X_ref``; capped at 1) and
    of the mismatch (0 or 1) for categories, as ``ExamplePool.nearest``
    picks the examples shown to the workers.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_rows, n_features)
    X_ref : DataFrame or array-like of shape (n_ref, n_features)
        Same columns as ``X``.
    categorical : collection of str, default=None
        Columns compared as categories; ``None`` takes object, string,
        category and bool columns of ``X_ref``.

    Returns
    -------
    distances : ndarray of shape (n_rows, n_ref)
        In [0, 1]; 0 for rows equal on every column.
    """
    ref = _as_frame(X_ref, "X_ref")
    rows = _as_frame(X, "X")
    if list(map(str, rows.columns)) != list(map(str, ref.columns)):
        raise ValueError(f"X has columns {list(rows.columns)} but X_ref has "
                         f"{list(ref.columns)}; pass the same columns.")
    rows.columns = ref.columns
    if categorical is None:
        categorical = {c for c in ref.columns if _is_categorical(ref[c])}
    out = np.zeros((len(rows), len(ref)))
    for c in ref.columns:
        if c in categorical:
            d = (rows[c].to_numpy(dtype=object)[:, None]
                 != ref[c].to_numpy(dtype=object)[None, :]).astype(float)
        else:
            r = pd.to_numeric(ref[c], errors="coerce").to_numpy(dtype=float)
            x = pd.to_numeric(rows[c], errors="coerce").to_numpy(dtype=float)
            span = np.nanmax(r) - np.nanmin(r) if len(r) else 0.0
            span = span if span > 0 else 1.0
            d = np.minimum(np.abs(x[:, None] - r[None, :]) / span, 1.0)
            d = np.where(np.isnan(d), 1.0, d)
        out += d
    return out / max(1, len(ref.columns))


def distance_to_closest_record(X_train, X_syn, X_holdout=None, *, categorical=None):
    """Distance of each synthetic row to its closest training row (DCR).

    A privacy check: a synthetic row at distance 0 copies a real record;
    synthetic rows much closer to the training rows than real rows of the
    same population are (``X_holdout``: rows the generator never saw)
    suggest the generator memorises. The usual reading compares the two
    distributions: ``syn_median`` well below ``holdout_median`` is a warning.
    Distances are Gower's (:func:`gower_distances`), in [0, 1].

    Parameters
    ----------
    X_train : DataFrame or array-like
        The real rows the generator was given.
    X_syn : DataFrame or array-like
        Generated rows.
    X_holdout : DataFrame or array-like, default=None
        Real rows not given to the generator: the reference distribution.
    categorical : collection of str, default=None
        See :func:`gower_distances`.

    Returns
    -------
    result : Bunch
        ``syn`` (DCR of each synthetic row), ``nearest`` (index of its
        closest training row), ``syn_median``, ``copy_rate`` (share at
        distance 0); with ``X_holdout``: ``holdout`` (DCR of each held-out
        row), ``holdout_median`` and ``closer_than_holdout`` (share of
        synthetic rows closer to the training data than the median held-out
        row).
    """
    d = gower_distances(X_syn, X_train, categorical=categorical)
    dcr = d.min(axis=1)
    out = Bunch(syn=dcr, nearest=d.argmin(axis=1), syn_median=float(np.median(dcr)),
                copy_rate=float(np.mean(dcr == 0)))
    if X_holdout is not None:
        ref = gower_distances(X_holdout, X_train, categorical=categorical).min(axis=1)
        out.update(holdout=ref, holdout_median=float(np.median(ref)),
                   closer_than_holdout=float(np.mean(dcr < np.median(ref))))
    return out


def authenticity(X_train, X_syn, *, categorical=None):
    """Share of synthetic rows that are authentic, as synthcity's ``authenticity``.

    After Alaa et al. (2022): a synthetic row is *not* authentic when it is
    closer to its nearest training row than that training row is to its own
    nearest other training row, i.e. it sits inside the training row's
    neighbourhood, as a copy or a near-copy would. Distances are Gower's.

    Parameters
    ----------
    X_train : DataFrame or array-like
        The real rows the generator was given (at least 2).
    X_syn : DataFrame or array-like
        Generated rows.
    categorical : collection of str, default=None
        See :func:`gower_distances`.

    Returns
    -------
    authenticity : float
        In [0, 1]; 1 when no synthetic row is inside a training row's
        neighbourhood.
    """
    train = gower_distances(X_train, X_train, categorical=categorical)
    if len(train) < 2:
        raise ValueError("authenticity needs at least 2 training rows.")
    np.fill_diagonal(train, np.inf)
    radius = train.min(axis=1)
    d = gower_distances(X_syn, X_train, categorical=categorical)
    nearest = d.argmin(axis=1)
    return float(np.mean(d[np.arange(len(d)), nearest] > radius[nearest]))
