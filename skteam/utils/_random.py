"""Seeds and generators: the one place skteam turns ``random_state`` into numbers.

No function here reads or advances NumPy's global random state.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state as _sk_check_random_state


def check_random_state(random_state) -> np.random.RandomState:
    """``sklearn.utils.check_random_state`` that leaves NumPy's global state alone.

    ``None`` gives a fresh ``RandomState`` seeded from OS entropy instead of
    the global singleton, so the global stream is neither read nor advanced.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        An int seeds a new ``RandomState``; a ``RandomState`` is returned as
        is; ``None`` gives a fresh one seeded from OS entropy.

    Returns
    -------
    rng : numpy.random.RandomState
    """
    if random_state is None:
        return np.random.RandomState()
    return _sk_check_random_state(random_state)


def resolve_seed(random_state, bits: int = 32) -> int:
    """One integer seed from ``random_state``.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        An int is used as is, modulo ``2**bits``; a ``RandomState`` gives
        one draw in ``[0, 2**31 - 1)``; ``None`` takes fresh entropy from the
        operating system.
    bits : int, default=32
        Width of the seed: 32 for NumPy's and scikit-learn's seeds, 62 for
        the base seed of a sampler (keys of :func:`derive_seed`).

    Returns
    -------
    seed : int
    """
    if isinstance(random_state, numbers.Integral) and not isinstance(
            random_state, (bool, np.bool_)):
        return int(random_state) % (2**bits)
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**bits))
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def derive_seed(*key: int) -> int:
    """A 63-bit seed that depends only on ``key`` (a tuple of non-negative ints)."""
    ss = np.random.SeedSequence(entropy=[int(k) for k in key])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def derive_rng(*key: int) -> np.random.Generator:
    """A numpy Generator that depends only on ``key``."""
    return np.random.default_rng(np.random.SeedSequence(entropy=[int(k) for k in key]))


def seed_estimator(estimator, seed: int) -> None:
    """Set every ``random_state`` of ``estimator`` (nested too) that is None.

    Parameters
    ----------
    estimator : estimator instance
        Changed in place. An object without ``get_params`` (or whose
        ``get_params`` fails) is left alone.
    seed : int
        The value given to every unset ``random_state``.
    """
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
