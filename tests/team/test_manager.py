"""The task manager: parsing its answer (pure logic) and the real call."""

import pandas as pd
import pytest

from skteam import Schema
from skteam.team.manager import parse_manager_answer, plan_with_manager
from skteam.team.plan import repair_plan

S = Schema.infer(pd.DataFrame({"age": [20, 30], "sex": ["F", "M"], "beds": [1, 2],
                               "sleep": [5.5, 7.0]}), [0, 1])


def test_parse_manager_answer():
    text = ("Roles:\n0. Demographics\n1. Health\nFeatures:\nage -> 0\nsex -> 0\n"
            "beds -> 2\nsleep -> 1\nOrder: 0 before 1; 1 before 0\n")
    raw = parse_manager_answer(text, S)
    assert [r["features"] for r in raw["roles"]] == [
        ["age", "sex"], ["sleep"], ["beds"]]
    assert raw["roles"][2]["name"] == "Role 3"
    plan = repair_plan(raw, S)
    assert len(plan.edges) == 1


@pytest.mark.model
def test_manager_call_gives_valid_plan(embedded_backend):
    plan = plan_with_manager(embedded_backend, S, [[20, "F", 1, 5.5]], seed=0)
    features = [f for r in plan.roles for f in r.features]
    assert sorted(features) == sorted(S.names)
    plan.levels()  # acyclic
    assert plan_with_manager(embedded_backend, S, [[20, "F", 1, 5.5]], seed=0) == plan


def test_role_words_come_from_the_table():
    from skteam.team.manager import role_words

    words = role_words(S)
    assert words == ["Age", "Sex", "Beds", "Sleep", "Features"]
    assert all(w not in words for w in ("Kappa", "Omega", "Demographics"))


@pytest.mark.model
def test_manager_role_names_are_made_of_the_tables_words(embedded_backend):
    from skteam.team.manager import role_words

    iris = Schema.infer(pd.DataFrame({
        "sepal_length": [5.1, 4.9, 6.3], "sepal_width": [3.5, 3.0, 2.9],
        "petal_length": [1.4, 1.4, 5.6], "petal_width": [0.2, 0.2, 1.8]}), [0, 0, 1])
    words = set(role_words(iris))
    for seed in range(3):
        plan = plan_with_manager(embedded_backend, iris,
                                 [[5.1, 3.5, 1.4, 0.2], [6.3, 2.9, 5.6, 1.8]],
                                 seed=seed)
        for role in plan.roles:
            if role.name != "Remaining features" and plan.source != "fallback":
                assert set(role.name.split()) <= words, role.name
