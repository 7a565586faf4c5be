"""Helpers shared across skteam: seeds, input checks, shared docstrings."""

from ._random import (
    check_random_state,
    derive_rng,
    derive_seed,
    resolve_seed,
    seed_estimator,
)

__all__ = ["check_random_state", "derive_rng", "derive_seed", "resolve_seed",
           "seed_estimator"]
