"""The fill order of the generate→trim loop's budget rules (the batch budget
and the early stop are tested with the loop, ``tests/test_loop.py``)."""

import numpy as np

from skteam.budget import fill_order


def info(delta=np.nan, tau=np.nan, in_window=np.nan, gain=np.nan, cost=np.nan):
    return {"delta": delta, "tau": tau, "in_window": in_window,
            "entropy_gain": gain, "cost": cost}


def test_fill_order_ranks_by_duel_trim_margin_diversity_then_row_cost():
    reserve = [
        (0, "no duel", 1, info()),
        (1, "lost duel, out of trim", 1, info(-0.1, 0.0, False, 0.5, 0.1)),
        (2, "lost duel, in trim", 1, info(-0.1, 0.0, True, 0.5, 0.9)),
        (3, "won duel, low gain, costly", 1, info(0.2, 0.0, True, 0.1, 0.8)),
        (3, "won duel, low gain, cheap", 1, info(0.2, 0.0, True, 0.1, 0.2)),
        (4, "won duel, high gain", 1, info(0.2, 0.0, True, 0.9, 0.5)),
        (5, "lost duel by less, in trim", 1, info(-0.05, 0.0, True, 0.5, 0.9)),
    ]
    order = [row for _, row, _, _ in fill_order(reserve)]
    assert order == ["won duel, high gain", "won duel, low gain, cheap",
                     "won duel, low gain, costly", "lost duel by less, in trim",
                     "lost duel, in trim", "lost duel, out of trim", "no duel"]


def test_chunk_batches_bounded_by_quota_budget_and_chunk_rows():
    from skteam.budget import CHUNK_OVERSAMPLE, chunk_batches

    # a large quota: the chunk is rows_per_chunk rows
    assert chunk_batches(100, 10, 32, 60) == 6
    # a small quota: at most CHUNK_OVERSAMPLE times its rows
    assert chunk_batches(18, 10, 8, 60) == -(-CHUNK_OVERSAMPLE * 18 // 10)
    # never more than the budget, never less than one batch
    assert chunk_batches(100, 10, 2, 60) == 2
    assert chunk_batches(1, 10, 5, 60) == 1
    assert chunk_batches(5, 20, 5, 10) == 1
