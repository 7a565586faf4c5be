"""skteam's own plans reordered for declared constraints (pure logic)."""

import pandas as pd

from skteam import Schema
from skteam.constraints import parse_constraint
from skteam.team.bounds import bounding_constraints
from skteam.team.plan import Plan, Role
from skteam.team.reorder import plan_for_constraints

SCHEMA = Schema.infer(pd.DataFrame({
    "juv": [0, 4], "priors": [0, 30], "misd": [0, 6], "score": [0.0, 9.5],
    "sex": ["f", "m"]}))


def _parsed(*texts):
    return [parse_constraint(t, SCHEMA) for t in texts]


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
