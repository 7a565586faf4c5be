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


# -- the task manager in steps ---------------------------------------------------
COMPAS_LIKE = pd.DataFrame({
    "age": [25, 40, 33, 52, 61, 19, 45, 30],
    "age_cat_young": [1, 0, 0, 0, 0, 1, 0, 0],
    "juv_fel_count": [0, 1, 0, 0, 2, 0, 0, 1],
    "juv_misd_count": [1, 0, 0, 0, 1, 0, 0, 2],
    "charge_degree": ["F", "M", "F", "F", "M", "M", "F", "M"],
    "charge_days": [3, 10, 1, 0, 7, 2, 5, 9],
})
COMPAS_SCHEMA = Schema.infer(COMPAS_LIKE, [0, 1, 0, 1, 0, 1, 0, 1])


class ScriptedBackend:
    """Test double (pure logic of the steps): answers each question from a
    function of its prompt and its grammar's options; records the calls."""

    context_length = 4096

    def __init__(self, answer):
        self.answer, self.calls = answer, []

    def chat_prompt(self, system, user):
        return f"{system}\n{user}\n"

    def count_tokens(self, text):
        return len(str(text).split())

    def generate(self, prompts_, grammars, *, seeds, max_new_tokens, temperature,
                 usage=None):
        out = [self.answer(prompt, _options(grammar))
               for prompt, grammar in zip(prompts_, grammars)]
        self.calls.append(len(prompts_))
        return out


def _options(grammar):
    import json as _json

    body = grammar.removeprefix("start: ").removesuffix('\n').removesuffix('"\\n"')
    return [_json.loads(o) for o in body.strip().split(" | ")]


def test_name_options_are_the_tables_words():
    from skteam.team.manager import name_options

    options = name_options(COMPAS_SCHEMA)
    assert options[2][:2] == ["Count", "Juv"]  # shared words first
    assert options[2][2] == "Fel"  # then its own words
    words = {w for opts in options for w in opts}
    assert words <= {"Age", "Cat", "Young", "Juv", "Count", "Fel", "Misd", "Charge",
                     "Degree", "Days"}


def test_plan_in_steps_logic():
    from skteam.team.manager import plan_in_steps

    def answer(prompt, options):
        if options == ["yes", "no"]:
            return "yes" if "group Charge" in prompt.splitlines()[-2] else "no"
        if "Task: name the group of the feature age " in prompt:
            return "Age"
        if "Task: name the group of the feature age_cat_young" in prompt:
            return "Age"
        if "Task: name the group of the feature juv_" in prompt:
            return "Juv"
        if "Task: name the group" in prompt:  # charge_degree, charge_days
            return "Days" if "charge_days" in prompt.splitlines()[-2] else "Degree"
        return options[0]  # a choice: the first option (own words first)

    backend = ScriptedBackend(answer)
    plan = plan_in_steps(backend, COMPAS_SCHEMA, COMPAS_LIKE,
                         [0, 1, 0, 1, 0, 1, 0, 1], seed=0)
    groups = {r.name: set(r.features) for r in plan.roles}
    # names given twice are roles; the charge columns (named once each)
    # chose among them
    assert set(groups) == {"Age", "Juv"}
    assert groups["Age"] >= {"age", "age_cat_young"}
    assert groups["Juv"] >= {"juv_fel_count", "juv_misd_count"}
    assert plan.source == "manager (steps)"
    assert backend.calls == [6, 2, 1]  # names, choices of the 2 others, 1 pair
    plan.levels()
    assert len(plan.edges) == 1  # the later role got a parent


@pytest.mark.model
def test_plan_in_steps_with_the_model(embedded_backend):
    from skteam.team.manager import name_options, plan_in_steps

    y = [0, 1, 0, 1, 0, 1, 0, 1]
    plan = plan_in_steps(embedded_backend, COMPAS_SCHEMA, COMPAS_LIKE, y, seed=0)
    assert sorted(f for r in plan.roles for f in r.features) == sorted(
        COMPAS_SCHEMA.names)
    plan.levels()  # acyclic
    if plan.source == "manager (steps)":
        words = {w for opts in name_options(COMPAS_SCHEMA) for w in opts}
        assert {r.name for r in plan.roles} <= words
        assert len(plan.roles) >= 2
    assert plan_in_steps(embedded_backend, COMPAS_SCHEMA, COMPAS_LIKE, y,
                         seed=0) == plan
