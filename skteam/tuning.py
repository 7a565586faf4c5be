"""Values of the QC thresholds worth searching, read from a fit.

``cost_c`` changes what a fit returns only where it crosses the ``Δ / std``
of a batch that the other stages pass: a batch wins the cost duel for every
``c`` below its ``delta / null_std`` (columns of ``qc_report_``), so
neighbouring values of a fixed grid often return the same rows. Like the
``alpha`` grid that :class:`sklearn.linear_model.LassoCV` draws from the
data, :func:`cost_c_grid` reads those limits from one fit and returns values
of ``cost_c`` that each keep a different set of that fit's batches, for a
:class:`~sklearn.model_selection.GridSearchCV`.

Examples
--------
>>> import pandas as pd
>>> from types import SimpleNamespace
>>> from skteam.tuning import cost_c_grid
>>> fitted = SimpleNamespace(cost_c=0.0, qc_report_=pd.DataFrame({  # a stand-in
...     "kept": [10, 0, 10, 10], "delta": [0.02, -0.01, 0.05, 0.03],
...     "null_std": [0.01, 0.01, 0.01, 0.01]}))
>>> cost_c_grid(fitted, n=3)
[0.0, 2.5, 4.0]
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd

from .utils._validation import check_fitted_sampler

__all__ = ["cost_c_limits", "cost_c_grid"]


def cost_c_limits(sampler) -> pd.Series:
    """The ``cost_c`` up to which each batch a fit kept wins the cost duel.

    Parameters
    ----------
    sampler : TeamTrimSampler
        Fitted, with the cost stage among its ``qc`` stages.

    Returns
    -------
    limits : pandas.Series
        ``delta / null_std`` of each batch of ``qc_report_`` that kept a row
        and met the cost duel, indexed like the report, sorted ascending.
        At a ``cost_c`` at or above a batch's limit the duel rejects it.
    """
    check_fitted_sampler(sampler, "qc_report_", what="cost_c_limits")
    report = sampler.qc_report_
    missing = {"kept", "delta", "null_std"} - set(report.columns)
    if missing:
        raise ValueError(f"qc_report_ lacks the columns {sorted(missing)}.")
    duelled = (report["kept"] > 0) & np.isfinite(report["delta"].astype(float)) \
        & (report["null_std"].astype(float) > 0)
    rows = report[duelled]
    limits = rows["delta"].astype(float) / rows["null_std"].astype(float)
    return limits.sort_values()


def cost_c_grid(sampler, n: int = 4) -> list:
    """Values of ``cost_c`` that each keep a different set of a fit's batches.

    The first value is the fit's own ``cost_c`` (every batch it kept); each
    further value lies midway between two neighbouring limits
    (:func:`cost_c_limits`), so it rejects the batches with the lower limits
    and keeps the others. The cuts are spread evenly over the weaker half of
    the kept batches, or over the ``n - 1`` weakest where that half holds
    fewer, so every value keeps the strongest batch and, where the fit kept
    ``2 (n - 1)`` batches or more, at least half of them: a value that
    rejects most batches has to read several times as many to fill its
    quota, and mostly fills it with rejected rows. Values are rounded to
    two decimals where that keeps them strictly between their limits.

    Fit once with a permissive ``cost_c`` (the default 0, or below), then
    search the values returned. They are exact for the fit they are read
    from; a candidate that rejects a batch changes the data that later
    batches are duelled against, and the folds of a search hold other
    batches, so there they mark where the rows change rather than fix it.

    Parameters
    ----------
    sampler : TeamTrimSampler
        Fitted, with the cost stage among its ``qc`` stages.
    n : int, default=4
        Values wanted; fewer are returned (with a warning) when the fit kept
        fewer than ``n`` batches.

    Returns
    -------
    values : list of float
        Ascending, distinct, starting at ``sampler.cost_c``.

    Raises
    ------
    ValueError
        When ``n`` is not an int of at least 2, or no batch of the fit met
        the cost duel (fit with a lower ``cost_c`` or more ``max_batches``).
    """
    if not (isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 2):
        raise ValueError(f"n must be an int >= 2; got {n!r}.")
    limits = np.unique(cost_c_limits(sampler).to_numpy())
    if not np.isfinite(sampler.qc_report_["delta"].astype(float)).any():
        raise ValueError(
            "This fit ran no cost duel (no batch has a delta), so cost_c changed "
            "nothing: fit with 'cost' among the qc stages (the default).")
    c0 = float(sampler.cost_c)
    limits = limits[limits > c0]
    k = len(limits)
    if k == 0:
        raise ValueError(
            "No batch of this fit kept a row through the cost duel, so no value of "
            "cost_c changes which batches it keeps. Fit with a lower cost_c (e.g. "
            "-1) or a larger max_batches, or leave cost_c as it is.")
    # m rejects the m weakest batches; the deepest cut keeps at least half of
    # them where k allows n values so, and always the strongest
    deepest = max(min(n - 1, k - 1), k // 2)
    cuts = np.unique(np.round(np.linspace(0, deepest, n)).astype(int))
    values = [c0 if m == 0 else _short(limits[m - 1], limits[m]) for m in cuts]
    if len(values) < n:
        warnings.warn(f"The fit kept {k} batch(es) through the cost duel, so only "
                      f"{len(values)} value(s) of cost_c keep different sets of them "
                      f"and the strongest (asked for {n}). Fit with a lower cost_c "
                      "or a larger max_batches for more.", UserWarning, stacklevel=2)
    return values


def _short(lo: float, hi: float) -> float:
    """The midpoint of ``(lo, hi)``, to two decimals if still strictly inside."""
    mid = (float(lo) + float(hi)) / 2
    short = round(mid, 2)
    return short if lo < short < hi else mid
