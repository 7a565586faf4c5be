"""Tests of skteam.utils._validation's identifier warning (pure logic)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from skteam.schema import Schema
from skteam.utils._validation import IDENTIFIER_MIN_ROWS, warn_identifier_columns


def _frame(n, **extra):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.integers(20, 30, n), "score": rng.normal(size=n)})
    for name, values in extra.items():
        X[name] = values
    return X


def _warned(X):
    schema = Schema.infer(X, pd.Series(np.arange(len(X)) % 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = warn_identifier_columns(schema, len(X), X=X)
    return names, [str(w.message) for w in caught]


def test_row_numbers_are_warned_about_shuffled_and_offset():
    n = 20
    X = _frame(n, row=np.random.default_rng(1).permutation(n) + 100)
    names, messages = _warned(X)
    assert names == ["row"]
    assert len(messages) == 1
    assert "X.drop(columns=['row'])" in messages[0]
    assert f"each of the {n} rows" in messages[0]


def test_categorical_ids_still_warned_about():
    n = 15
    names, _ = _warned(_frame(n, patient=[f"p{i:03d}" for i in range(n)]))
    assert names == ["patient"]


@pytest.mark.parametrize("values", [
    lambda n: np.arange(n) * 2,                # unique, not consecutive
    lambda n: np.r_[np.arange(n - 1), 0],      # consecutive range, one repeat
    lambda n: np.arange(n) + 0.5,              # not integers
])
def test_other_numeric_columns_are_not_identifiers(values):
    n = 20
    names, messages = _warned(_frame(n, other=values(n)))
    assert names == []
    assert messages == []


def test_small_tables_are_not_checked():
    n = IDENTIFIER_MIN_ROWS - 1
    names, messages = _warned(_frame(n, row=np.arange(n)))
    assert names == [] and messages == []


def test_without_rows_only_categorical_columns_are_checked():
    n = 20
    X = _frame(n, row=np.arange(n))
    schema = Schema.infer(X, pd.Series(np.arange(n) % 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_identifier_columns(schema, n) == []
