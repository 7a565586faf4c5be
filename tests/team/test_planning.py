"""make_plan: which plan a fit uses (the manager's call replaced by a test double)."""

import pandas as pd

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
