"""The plan: validation of user plans, repair, fallback, reordering for constraints."""

import json

import pandas as pd
import pytest

from skteam import Schema
from skteam.team.plan import (
    fallback_plan,
    load_plan,
    repair_plan,
)

S = Schema.infer(pd.DataFrame({"age": [20, 30], "sex": ["F", "M"], "beds": [1, 2],
                               "sleep": [5.5, 7.0]}), [0, 1])


def test_valid_user_plan_and_levels():
    plan = load_plan({"roles": [{"name": "Demo", "features": ["age", "sex"]},
                                {"name": "Env", "features": ["beds"]},
                                {"name": "Rec", "features": "sleep"}],
                      "edges": [["Demo", "Rec"], ["Env", "Rec"]]}, S)
    assert plan.levels() == [["Demo", "Env"], ["Rec"]]
    assert plan.ancestors("Rec") == ["Demo", "Env"]
    assert plan.source == "user"


def test_user_plan_from_json_file(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"roles": [{"name": "All", "features": S.names}]}))
    assert load_plan(str(path), S).roles[0].features == tuple(S.names)
    with pytest.raises(ValueError, match="does not exist"):
        load_plan(str(tmp_path / "missing.json"), S)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_plan(str(tmp_path / "bad.json"), S)


@pytest.mark.parametrize(
    "plan, match",
    [
        ({"roles": [{"name": "A", "features": ["age", "sex", "beds", "sleep", "x"]}]},
         "unknown feature 'x'"),
        ({"roles": [{"name": "A", "features": ["age", "sex"]},
                    {"name": "B", "features": ["age", "beds", "sleep"]}]},
         "'age' in two roles"),
        ({"roles": [{"name": "A", "features": ["age"]}]}, "in no role"),
        ({"roles": [{"name": "A", "features": ["age", "sex"]},
                    {"name": "B", "features": ["beds", "sleep"]}],
          "edges": [["A", "B"], ["B", "A"]]}, "cycle"),
        ({"roles": [{"name": "A", "features": ["age", "sex", "beds", "sleep"]}],
          "edges": [["A", "Z"]]}, "unknown role 'Z'"),
        ({"roles": [{"name": "A", "features": ["age", "sex"]},
                    {"name": "A", "features": ["beds", "sleep"]}]}, "two roles named"),
        ([1, 2], "must be a dict"),
    ],
)
def test_invalid_user_plans(plan, match):
    with pytest.raises(ValueError, match=match):
        load_plan(plan, S)


def test_repair_is_deterministic_and_recorded():
    raw = {"roles": [{"name": "A", "features": ["age", "age", "zz"]},
                     {"name": "A", "features": ["sex", "age"]},
                     {"name": "C", "features": []}],
           "edges": [[0, 1], [1, 0], [0, 0], [5, 1]]}
    plan = repair_plan(raw, S)
    assert plan == repair_plan(raw, S)
    assert [r.name for r in plan.roles] == ["A", "A 2", "Remaining features"]
    assert [r.features for r in plan.roles] == [("age",), ("sex",), ("beds", "sleep")]
    assert ("A", "A 2") in plan.edges and ("A 2", "A") not in plan.edges
    assert plan.levels()[-1] == ["Remaining features"]
    text = " ".join(plan.repairs)
    for phrase in ["unknown feature 'zz'", "closed a cycle", "self-loop",
                   "no features of its own", "in no role", "renamed duplicate"]:
        assert phrase in text
    assert plan.source == "manager (repaired)"


def test_fallback_plan():
    plan = fallback_plan(S)
    assert plan.levels() == [["Profile"], ["Measurements"]]
