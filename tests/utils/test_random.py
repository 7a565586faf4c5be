"""The one seed helper: resolve_seed, derive_seed, check_random_state (pure logic)."""

import numpy as np
import pytest

from skteam.utils import check_random_state, derive_rng, derive_seed, resolve_seed


@pytest.mark.parametrize("value, bits, expected", [
    (5, 32, 5), (2**32 + 7, 32, 7), (2**62 + 3, 62, 3), (2**40, 62, 2**40),
    (np.int64(9), 32, 9),
])
def test_resolve_seed_of_an_int(value, bits, expected):
    assert resolve_seed(value, bits=bits) == expected


def test_resolve_seed_of_a_random_state_and_of_none():
    rs = np.random.RandomState(0)
    assert resolve_seed(rs) == np.random.RandomState(0).randint(0, 2**31 - 1)
    before = np.random.get_state()[1].copy()
    seeds = {resolve_seed(None, bits=62) for _ in range(5)}
    assert len(seeds) == 5 and all(0 <= s < 2**62 for s in seeds)
    assert np.array_equal(np.random.get_state()[1], before)  # global state untouched


def test_derived_seeds_depend_only_on_the_key():
    assert derive_seed(1, 2, 3) == derive_seed(1, 2, 3) != derive_seed(1, 2, 4)
    assert derive_rng(7, 1).random() == derive_rng(7, 1).random()


def test_check_random_state_of_none_is_fresh():
    assert check_random_state(None) is not np.random.mtrand._rand
    rs = np.random.RandomState(1)
    assert check_random_state(rs) is rs
