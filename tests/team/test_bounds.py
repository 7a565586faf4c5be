"""Declared constraints as per-row cell ranges (pure logic, no model)."""

import pandas as pd

from skteam import Schema
from skteam.constraints import parse_constraint
from skteam.team.bounds import bounding_constraints, cell_bounds

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
