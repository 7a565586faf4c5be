"""Role workers: parent-matched examples and constraint-narrowed ranges (pure logic)."""

import numpy as np
import pandas as pd
import pytest

from skteam import Schema
from skteam.constraints import parse_constraint
from skteam.team.manager import Plan, Role
from skteam.team.workers import (
    ExamplePool,
    bounding_constraints,
    cell_bounds,
    plan_for_constraints,
)


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


# -- reordering skteam's own plans for declared constraints (pure logic) -------


def _plan(roles, edges=()):
    return Plan(tuple(Role(n, tuple(f)) for n, f in roles), tuple(edges),
                source="manager")


def _valid(plan):
    features = [f for r in plan.roles for f in r.features]
    assert sorted(features) == sorted(SCHEMA.names)
    order = [n for level in plan.levels() for n in level]
    assert order == [r.name for r in plan.roles]  # listed in generation order


def test_plan_for_constraints_splits_a_role_holding_both_columns():
    plan = _plan([("person", ["sex", "score"]), ("record", ["juv", "priors", "misd"])],
                 [("person", "record")])
    cs = _parsed("priors >= juv")
    new = plan_for_constraints(plan, cs, SCHEMA)
    _valid(new)
    assert new.role("record").features == ("juv", "misd")
    assert new.role("record (constrained)").features == ("priors",)
    assert ("record", "record (constrained)") in new.edges
    assert new.source == "manager (repaired)"
    assert "'priors >= juv'" in new.repairs[-1]
    binding = bounding_constraints(cs, [SCHEMA["priors"]], ["juv", "misd"])
    assert list(binding) == ["priors"]


def test_plan_for_constraints_keeps_later_roles_after_a_moved_column():
    plan = _plan([("a", ["juv", "priors"]), ("b", ["misd", "score", "sex"])],
                 [("a", "b")])
    new = plan_for_constraints(plan, _parsed("priors >= juv"), SCHEMA)
    _valid(new)
    # b saw priors before; it still comes after it
    assert ("a (constrained)", "b") in new.edges


def test_plan_for_constraints_adds_an_edge_between_unordered_roles():
    plan = _plan([("a", ["juv", "sex"]), ("b", ["priors"]), ("c", ["misd", "score"])])
    new = plan_for_constraints(plan, _parsed("priors >= juv"), SCHEMA)
    _valid(new)
    assert {r.name: r.features for r in new.roles} == {
        r.name: r.features for r in plan.roles}
    assert new.edges == (("a", "b"),)
    assert [r.name for r in new.roles] == ["a", "c", "b"]


def test_plan_for_constraints_avoids_cycles_by_taking_an_earlier_column():
    # priors' role c feeds juv's role b: priors cannot come after juv, so juv
    # is bounded by priors instead
    plan = _plan([("a", ["sex", "score", "misd"]), ("b", ["juv"]), ("c", ["priors"])],
                 [("c", "b")])
    new = plan_for_constraints(plan, _parsed("priors >= juv"), SCHEMA)
    assert new is plan  # already binding: juv is written after priors
    plan = _plan([("a", ["sex", "score", "misd", "juv", "priors"])])
    new = plan_for_constraints(plan, _parsed("priors - juv >= misd"), SCHEMA)
    _valid(new)
    assert new.role("a (constrained)").features == ("priors",)


def test_plan_for_constraints_leaves_a_plan_an_edge_would_make_cyclic():
    # sex (categorical) cannot be narrowed; score could, but only if sex's
    # role came before score's, which already comes before it
    plan = _plan([("a", ["score", "juv", "priors"]), ("b", ["sex", "misd"])],
                 [("a", "b")])
    assert plan_for_constraints(plan, _parsed("score + (sex == 'f') >= 1"),
                                SCHEMA) is plan


def test_plan_for_constraints_leaves_what_cannot_bind():
    plan = _plan([("a", ["juv", "priors", "sex", "misd", "score"])])
    cs = _parsed("priors >= juv or sex == 'f'", "0 <= score <= 5", "priors != juv")
    assert plan_for_constraints(plan, cs, SCHEMA) is plan
