"""make_plan: which plan a fit uses (the manager's call replaced by a test double)."""

import pandas as pd
import pytest

from skteam import Schema
from skteam.team.plan import Plan, Role


def _wide():
    import numpy as np

    rng = np.random.default_rng(0)
    base = rng.normal(size=(60, 2))
    X = pd.DataFrame({f"lab_{i}": base[:, 0] + 0.1 * rng.normal(size=60)
                      for i in range(4)})
    for i in range(4):
        X[f"body_{i}"] = base[:, 1] + 0.1 * rng.normal(size=60)
    return X, np.array([0, 1] * 30)


def test_make_plan_data_and_degenerate_manager_plans(monkeypatch):
    import skteam.team.planning as planning
    from skteam.team.planning import make_plan

    X, y = _wide()
    schema = Schema.infer(X, y)
    data = make_plan(None, schema, X, y, plan="data", seed=0)
    assert data.source == "data" and data.repairs[0] == "plan='data'"
    assert {frozenset(r.features) for r in data.roles} == {
        frozenset(X.columns[:4]), frozenset(X.columns[4:])}

    # a test double of the manager's call: one role holding every feature
    one_role = Plan((Role("Lab", tuple(schema.names)),), source="manager")
    monkeypatch.setattr(planning, "plan_with_manager", lambda *a, **k: one_role)
    used = make_plan(object(), schema, X, y, seed=0)
    assert used.source == "data"
    assert "the manager plan was not used" in used.repairs[0]

    fine = Plan((Role("Lab", tuple(schema.names[:4])),
                 Role("Body", tuple(schema.names[4:]))), (("Lab", "Body"),),
                source="manager")
    monkeypatch.setattr(planning, "plan_with_manager", lambda *a, **k: fine)
    assert make_plan(object(), schema, X, y, seed=0) == fine


def test_make_plan_named_plans(monkeypatch):
    import skteam.team.planning as planning
    from skteam.team.planning import make_plan

    X, y = _wide()
    schema = Schema.infer(X, y)
    single = make_plan(object(), schema, X, y, plan="single", seed=0)
    assert single.source == "single" and len(single.roles) == 1
    assert single.roles[0].features == tuple(schema.names)

    # a test double of the stepwise manager; degenerate answers are replaced
    steps = Plan((Role("Lab", tuple(schema.names[:4])),
                  Role("Body", tuple(schema.names[4:]))), (("Lab", "Body"),),
                 source="manager (steps)")
    calls = []
    monkeypatch.setattr(planning, "plan_in_steps",
                        lambda *a, **k: calls.append(k) or steps)
    assert make_plan(object(), schema, X, y, plan="steps", seed=0) == steps
    assert calls and "seed" in calls[0]
    # no class needs rows: no manager call
    assert make_plan(object(), schema, X, y, plan="steps", seed=0,
                     manager=False).source == "data"
    assert len(calls) == 1


def test_make_plan_skips_the_manager_where_its_plan_cannot_be_used(monkeypatch):
    import numpy as np

    import skteam.team.planning as planning
    from skteam.team.data_plan import MAX_ROLE_FEATURES
    from skteam.team.manager import MANAGER_MAX_ROLES
    from skteam.team.planning import make_plan

    def no_call(*args, **kwargs):  # test double: the manager must not be asked
        raise AssertionError("the task manager was asked")

    monkeypatch.setattr(planning, "plan_with_manager", no_call)
    monkeypatch.setattr(planning, "plan_in_steps", no_call)
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 15)
    limit = MANAGER_MAX_ROLES * MAX_ROLE_FEATURES
    wide = pd.DataFrame(rng.normal(size=(30, limit + 1)),
                        columns=[f"x{i}" for i in range(limit + 1)])
    for plan in (None, "steps"):
        used = make_plan(object(), Schema.infer(wide, y), wide, y, plan=plan, seed=0)
        assert used.source == "data"
        assert "the task manager was not asked" in used.repairs[0]
        assert max(len(r.features) for r in used.roles) <= MAX_ROLE_FEATURES
    # at the limit the manager is still asked
    X = wide.iloc[:, :limit]
    with pytest.raises(AssertionError, match="the task manager was asked"):
        make_plan(object(), Schema.infer(X, y), X, y, seed=0)
