"""How many batches a class may read, when it stops early, and which rows fill it.

The :class:`~skteam.loop.TrimLoop` budget rules: ``max_batches`` per class
(:func:`batch_budget`), the batches generated in one go
(:func:`chunk_batches`), the early stop of a class whose quota is out of
reach (:func:`out_of_reach`), and the order in which QC-rejected sane rows
complete a quota under ``on_shortfall="fill"`` (:func:`fill_order`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import beta

# Confidence of the bound that stops a class's generation early: the class
# stops when even the upper bound of its batches' acceptance rate cannot
# fill its quota within max_batches (see ``out_of_reach``).
EARLY_STOP_LEVEL = 0.95
# ... and never before it has read this share of its max_batches.
EARLY_STOP_MIN_SHARE = 0.5
# A chunk holds at most this many times the rows a class's quota needs.
CHUNK_OVERSAMPLE = 2


def batch_budget(quotas: dict, batch_size: int, max_batches=None) -> dict:
    """Batches each class may use: ``max_batches``, else 3× what its quota needs + 2."""
    return {c: max_batches if max_batches is not None
            else 3 * math.ceil(q / batch_size) + 2 for c, q in quotas.items()}


def chunk_batches(quota: int, batch_size: int, budget: int, rows_per_chunk: int) -> int:
    """Batches of a class generated in one go.

    ``rows_per_chunk`` rows (forward batches of 32–64 rows give most of the
    gain of batching), but no more than ``CHUNK_OVERSAMPLE`` times the
    quota: a class that needs 18 rows does not pay for 60 on a wide table,
    where every row is expensive; a later chunk follows if the QC keeps too
    few. Never more than the class's budget, at least one batch.

    Parameters
    ----------
    quota : int
        Rows the class needs.
    batch_size : int
        Rows per batch.
    budget : int
        Batches the class may read (:func:`batch_budget`).
    rows_per_chunk : int
        Rows of a full chunk (``GenerationTuning.rows_per_chunk``).

    Returns
    -------
    n_batches : int
    """
    need = math.ceil(CHUNK_OVERSAMPLE * quota / batch_size)
    return max(1, min(rows_per_chunk // batch_size, budget, need))


def out_of_reach(passed, tried, left, batch_size, needed,
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


def fill_order(reserve) -> list:
    """The reserve ``(at, row, label, info)`` sorted for ``on_shortfall="fill"``.

    Best first: rows of batches that won the cost duel (``delta > tau``, so
    only a later stage rejected them), then rows inside the cost trim, then
    by the batch's margin ``delta − tau`` and its diversity score
    ``entropy_gain`` (higher first), then by the row's own cost
    ``1 − p_f(y | x)`` (lower first), then by generation order. A row whose
    score is missing (the stage did not run) ranks after the scored ones.
    """
    def key(item):
        at, _, _, info = item
        margin = info["delta"] - info["tau"]
        gain = info["entropy_gain"]
        cost = info.get("cost", np.nan)
        return (not margin > 0, info["in_window"] is not True,
                -margin if np.isfinite(margin) else np.inf,
                -gain if np.isfinite(gain) else np.inf,
                cost if np.isfinite(cost) else np.inf, at)

    return sorted(reserve, key=key)
