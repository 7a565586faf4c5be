"""Declared constraints as per-row cell ranges (pure logic, no model)."""

import pandas as pd

from skteam import Schema
from skteam.constraints import parse_constraint
from skteam.team.bounds import (
    band_bounds,
    bounding_constraints,
    cell_bounds,
    intersect_bounds,
    sign_bounds,
)

# -- constraints narrowing a role's ranges (pure logic, no model) --------------

SCHEMA = Schema.infer(pd.DataFrame({
    "juv": [0, 4], "priors": [0, 30], "misd": [0, 6], "score": [0.0, 9.5],
    "sex": ["f", "m"]}))


def _parsed(*texts):
    return [parse_constraint(t, SCHEMA) for t in texts]


def test_a_constraint_binds_the_last_of_its_columns_to_be_generated():
    cs = _parsed("priors >= juv", "priors >= juv + misd", "juv + misd <= 6",
                 "priors >= juv or sex == 'f'", "0 <= score <= 5")
    specs = [SCHEMA["priors"], SCHEMA["score"]]
    # juv known, misd not: only the first constraint and the one-column range
    binding = bounding_constraints(cs, specs, ["juv", "sex"])
    assert {k: [c.text for c in v] for k, v in binding.items()} == {
        "priors": ["priors >= juv"], "score": ["0 <= score <= 5"]}
    binding = bounding_constraints(cs, specs, ["juv", "misd", "sex"])
    assert [c.text for c in binding["priors"]] == ["priors >= juv",
                                                   "priors >= juv + misd"]
    # two of the constraint's columns in the role: left to the sanity stage
    both = [SCHEMA["juv"], SCHEMA["misd"]]
    assert bounding_constraints(cs, both, []) == {}
    assert bounding_constraints(cs, [SCHEMA["juv"]], []) == {}


def test_cell_bounds_narrow_rows_and_keep_conflicts_in_range():
    specs = [SCHEMA["priors"], SCHEMA["score"], SCHEMA["sex"]]
    cs = _parsed("priors >= juv + misd", "priors <= 3 * juv", "score < misd / 2")
    binding = bounding_constraints(cs, specs, ["juv", "misd"])
    rows = [{"juv": 0, "misd": 0}, {"juv": 2, "misd": 1}, {"juv": 0, "misd": 3},
            {"juv": None, "misd": 6}]
    bounds, conflicts = cell_bounds(binding, specs, rows)
    assert bounds[0]["priors"] == (0, 0)
    assert bounds[1]["priors"] == (3, 6)
    assert "priors" not in bounds[2]  # 3 <= priors <= 0: no legal value
    assert "priors" not in bounds[3]  # juv missing: no bound from it
    assert bounds[3]["score"] == (0.0, 2.9)
    assert bounds[1]["score"] == (0.0, 0.4)
    assert "score" not in bounds[0]  # score < 0: no legal value
    assert all(isinstance(v, int) for v in bounds[1]["priors"])
    assert conflicts == 2  # row 0 score < 0 and row 2 priors


# -- signs taken from an anchor row (pure logic, no model) ---------------------

SIGNED = Schema.infer(pd.DataFrame({
    "z": [-2.5, 1.25], "k": [-3, 4], "pos": [0.5, 2.0], "sex": ["f", "m"]}))


def test_sign_bounds_give_each_signed_column_its_anchor_sign():
    specs = [SIGNED["z"], SIGNED["k"], SIGNED["pos"], SIGNED["sex"]]
    bounds = sign_bounds(specs, [{"z": True, "k": False}, {"z": False, "k": True},
                                 {}])
    step = SIGNED["z"].step
    assert bounds[0] == {"z": (SIGNED["z"].low, -step), "k": (0, SIGNED["k"].high)}
    assert bounds[1] == {"z": (0, SIGNED["z"].high), "k": (SIGNED["k"].low, -1)}
    assert all(isinstance(v, int) for v in bounds[1]["k"])
    assert bounds[2] == {}  # an anchor without values leaves the row free
    # a column whose own range holds one sign is never bounded
    assert sign_bounds([SIGNED["pos"]], [{"pos": True}]) == [{}]


def test_intersect_bounds_keeps_the_first_range_where_they_do_not_meet():
    first = [{"a": (0, 5)}, {"a": (2, 5)}, {}]
    second = [{"a": (3, 9), "b": (-1, 0)}, {"a": (-9, -1)}, {"b": (0, 1)}]
    assert intersect_bounds(first, second) == [
        {"a": (3, 5), "b": (-1, 0)}, {"a": (2, 5)}, {"b": (0, 1)}]
    assert first == [{"a": (0, 5)}, {"a": (2, 5)}, {}]  # inputs unchanged


# -- bands around an anchor row (pure logic, no model) ------------------------

BANDED = Schema.infer(pd.DataFrame({
    "kids": [0, 3], "income": [7.1875, 11.5], "z": [-2.5, 1.25], "sex": ["f", "m"]}))


def test_band_bounds_hold_numbers_near_the_anchor_on_the_columns_grid():
    specs = [BANDED["kids"], BANDED["income"], BANDED["z"], BANDED["sex"]]
    centres = [{"kids": (1.0, 1.07), "income": (10.5580, 0.3), "z": (-2.4, 5.0)},
               {"kids": (3.0, 4.0), "income": (7.2, 2.0)},
               {}]
    bounds = band_bounds(specs, centres, 0.5)
    # 1 ± 0.535 holds one integer; a half-width under one step keeps the anchor's
    assert bounds[0]["kids"] == (1, 1)
    assert all(isinstance(v, int) for v in bounds[0]["kids"])
    # 10.558 ± 0.15, rounded inwards to the column's 4 decimals
    assert bounds[0]["income"] == (10.408, 10.708)
    # clipped to the column's own range below; -2.4 + 2.5 above
    assert bounds[0]["z"] == (BANDED["z"].low, 0.1)
    # 3 ± 2 is wider than the column's range above the anchor: only the low end
    assert bounds[1]["kids"] == (1, 3)
    assert bounds[1]["income"] == (BANDED["income"].low, 8.2)
    assert "sex" not in bounds[0] and "z" not in bounds[1]  # categories stay free
    assert bounds[2] == {}  # an anchor without values leaves the row free
    # a band wider than the column's range narrows nothing
    assert band_bounds([BANDED["kids"]], [{"kids": (1.0, 10.0)}], 1.0) == [{}]
    # a zero width (or spread) keeps the anchor's own value
    assert band_bounds([BANDED["income"]], [{"income": (9.0, 0.3)}], 0.0) == [
        {"income": (9.0, 9.0)}]


def test_band_bounds_never_exclude_the_anchor_value():
    # an anchor value off the column's grid is rounded onto it first
    [b] = band_bounds([BANDED["kids"]], [{"kids": (1.4, 0.2)}], 0.5)
    assert b["kids"] == (1, 1)
    [b] = band_bounds([BANDED["income"]], [{"income": (10.00004, 0.00001)}], 1.0)
    assert b["income"][0] <= 10.0 <= b["income"][1]
