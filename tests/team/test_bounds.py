"""Declared constraints as per-row cell ranges (pure logic, no model)."""

import pandas as pd

from skteam import Schema
from skteam.constraints import parse_constraint
from skteam.team.bounds import (
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
