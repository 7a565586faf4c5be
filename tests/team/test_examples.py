"""The example pool: parent-matched examples (pure logic)."""

import numpy as np
import pandas as pd
import pytest

from skteam import Schema
from skteam.team.examples import ExamplePool


@pytest.fixture
def pool():
    # juvenile counts 0..4 and priors >= juvenile counts, two classes
    juv = np.array([0, 0, 0, 0, 1, 1, 2, 2, 3, 4] * 2)
    X = pd.DataFrame({
        "juv": juv,
        "priors": juv + np.tile(np.arange(10), 2),
        "sex": ["f", "m"] * 10,
    })
    y = np.array([0] * 10 + [1] * 10)
    return ExamplePool(Schema.infer(X, pd.Series(y)), X, y), X, y


def test_nearest_picks_the_closest_real_rows_of_the_class(pool):
    pool, X, y = pool
    rng = np.random.default_rng(0)
    idx = pool.nearest(rng, 2, 1, ["juv"], [{"juv": 4}])
    assert set(y[idx]) == {1}
    # the one real row of class 1 with juv == 4, then one with juv == 3
    assert sorted(X["juv"].to_numpy()[idx]) == [3, 4]


def test_nearest_takes_turns_between_rows(pool):
    pool, X, _ = pool
    idx = pool.nearest(np.random.default_rng(0), 2, 0, ["juv"],
                       [{"juv": 0}, {"juv": 4}])
    assert sorted(X["juv"].to_numpy()[idx]) == [0, 4]
    assert len(set(idx)) == 2


def test_nearest_mixes_numbers_and_categories(pool):
    pool, X, _ = pool
    idx = pool.nearest(np.random.default_rng(0), 1, 0, ["juv", "sex"],
                       [{"juv": 2, "sex": "m"}])
    assert X.loc[idx[0], "juv"] == 2 and X.loc[idx[0], "sex"] == "m"


def test_nearest_breaks_ties_at_random_and_is_seeded(pool):
    pool, X, _ = pool
    draws = {tuple(pool.nearest(np.random.default_rng(s), 2, 0, ["juv"],
                                [{"juv": 0}])) for s in range(20)}
    # four real rows of class 0 have juv == 0: different seeds pick different ones
    assert len(draws) > 1
    assert all(set(X["juv"].to_numpy()[list(d)]) == {0} for d in draws)
    again = pool.nearest(np.random.default_rng(3), 2, 0, ["juv"], [{"juv": 0}])
    first = pool.nearest(np.random.default_rng(3), 2, 0, ["juv"], [{"juv": 0}])
    assert np.array_equal(again, first)


def test_nearest_returns_at_most_the_class_size(pool):
    pool, _, y = pool
    idx = pool.nearest(np.random.default_rng(0), 50, 1, ["juv"], [{"juv": 1}])
    assert sorted(idx) == sorted(np.flatnonzero(y == 1))


def test_coverage_gap_is_the_gower_distance_to_the_nearest_generated_row(pool):
    pool, X, y = pool
    class0 = X.iloc[pool.by_class[0]].to_numpy().tolist()
    assert np.array_equal(pool.coverage_gap(0, []), np.ones(10))
    gap = pool.coverage_gap(0, [class0[0]])  # a copy of the first real row
    assert gap[0] == 0 and np.all(gap[1:] >= 0)
    # real row 9 (juv 4, priors 13, m) against (juv 0, priors 0, f): juv and
    # priors are range-scaled (4 and 13 of ranges 4 and 13), sex differs
    assert gap[9] == pytest.approx((1 + 1 + 1) / 3)
    both = pool.coverage_gap(0, [class0[0], class0[9]])
    assert both[9] == 0 and both[0] == 0 and np.all(both <= gap)


def test_weighted_sample_favours_heavy_rows_and_is_seeded(pool):
    pool, _, _ = pool
    weights = np.full(10, 1e-3)
    weights[[2, 7]] = 1.0
    rng = np.random.default_rng(0)
    hits = np.zeros(20)
    for _ in range(50):
        hits[pool.sample(rng, 2, 0, weights=weights)] += 1
    assert hits[[2, 7]].sum() > 90  # nearly always the two heavy rows
    a = pool.sample(np.random.default_rng(1), 3, 0, weights=weights)
    b = pool.sample(np.random.default_rng(1), 3, 0, weights=weights)
    assert np.array_equal(a, b) and len(set(a)) == 3


def test_examples_for_width_keeps_a_prompt_within_its_cells():
    from skteam.team.examples import MIN_EXAMPLES, examples_for_width

    assert examples_for_width(8, 12, 96) == 8  # a narrow role: all examples
    assert examples_for_width(8, 20, 96) == 4  # a wide role: fewer
    assert examples_for_width(8, 200, 96) == MIN_EXAMPLES  # never fewer than this
    assert examples_for_width(1, 200, 96) == 1  # never more than asked for
    assert examples_for_width(8, 0, 96) == 8


def test_signed_columns_and_anchors():
    X = pd.DataFrame({"z": [-1.0, 2.0, -0.5, 0.0, 3.0, -4.0],
                      "pos": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                      "neg": [-1, -2, -3, -4, -5, -6], "c": list("abcabc")})
    y = np.array([0, 0, 0, 1, 1, 1])
    pool = ExamplePool(Schema.infer(X, pd.Series(y)), X, y)
    assert pool.signed == ["z"]  # both signs seen; one-signed columns are not
    assert pool.negative(0) == {"z": True} and pool.negative(3) == {"z": False}
    rng = np.random.default_rng(0)
    a = pool.anchors(rng, 3, 1)
    assert sorted(a) == [3, 4, 5]  # distinct while the class has enough rows
    a = pool.anchors(rng, 7, 0)
    assert len(a) == 7 and set(a) == {0, 1, 2}
    assert sorted(a[:3]) == [0, 1, 2] and sorted(a[3:6]) == [0, 1, 2]


def test_centre_gives_the_anchor_value_and_its_class_spread():
    X = pd.DataFrame({"x": [1.0, 3.0, 5.0, 10.0, 10.0, 10.0],
                      "k": [0, 0, 0, 1, 2, 3], "c": list("abcabc")})
    y = np.array([0, 0, 0, 1, 1, 1])
    pool = ExamplePool(Schema.infer(X, pd.Series(y)), X, y)
    every = {n: pytest.approx(np.std(X[n], ddof=1)) for n in ("x", "k")}
    # k is constant in class 0, x in class 1: the spread of every real row
    # stands in for the class's
    assert pool.centre(1, 0) == {"x": (3.0, 2.0), "k": (0.0, every["k"])}
    assert pool.centre(3, 1) == {"x": (10.0, every["x"]), "k": (1.0, 1.0)}
    assert "c" not in pool.centre(0, 0)  # categories have no centre
