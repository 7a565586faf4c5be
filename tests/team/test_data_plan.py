"""The data plan: roles from feature association, and degenerate-plan checks."""

import inspect
import time

import numpy as np
import pandas as pd
import pytest

from skteam import Schema
from skteam.team import data_plan as module
from skteam.team.data_plan import (
    association_matrix,
    data_plan,
    fit_role_names,
    is_degenerate,
)
from skteam.team.plan import Plan, Role, closes_cycle, repair_plan


def _blocks(n=200, seed=0, names=True):
    """Two blocks of correlated numeric columns, a categorical from block one,
    and three unrelated columns."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    cols = {
        "lab_glucose": a + 0.2 * rng.normal(size=n),
        "lab_insulin": a + 0.2 * rng.normal(size=n),
        "lab_hba1c": np.exp(a) + 0.1 * rng.normal(size=n),
        "lab_lipids": -a + 0.3 * rng.normal(size=n),
        "lab_risk": np.where(a > 0.5, "high", np.where(a < -0.5, "low", "mid")),
        "body_height": b + 0.2 * rng.normal(size=n),
        "body_weight": b + 0.2 * rng.normal(size=n),
        "body_arm": b + 0.3 * rng.normal(size=n),
        "body_leg": b + 0.3 * rng.normal(size=n),
        "zip": rng.integers(0, 1000, n),
        "shoe": rng.normal(size=n),
        "pet": rng.choice(["cat", "dog", "fish"], n),
    }
    X = pd.DataFrame(cols)
    if not names:  # no shared tokens: the grouping comes from the data alone
        X.columns = [f"v{i}" for i in range(X.shape[1])]
    y = (a > 0).astype(int)
    return X, y


def _check_valid(plan, schema):
    features = [f for r in plan.roles for f in r.features]
    assert sorted(features) == sorted(schema.names)
    assert len(features) == len(set(features))
    role_names = [r.name for r in plan.roles]
    assert len(role_names) == len(set(role_names))
    order = {n: i for i, n in enumerate(role_names)}
    seen = []
    for a, b in plan.edges:
        assert a in order and b in order and order[a] < order[b]
        assert not closes_cycle(seen, (a, b))
        seen.append((a, b))
    levels = plan.levels()
    assert sorted(n for lv in levels for n in lv) == sorted(role_names)
    # connected in order: every role but the first has a parent
    for name in role_names[1:]:
        assert plan.parents(name)
    assert plan.source == "data"


def _owner(plan):
    return {f: r.name for r in plan.roles for f in r.features}


@pytest.mark.parametrize("names", [True, False])
def test_correlated_blocks_share_a_role(names):
    X, y = _blocks(names=names)
    schema = Schema.infer(X, y)
    plan = data_plan(schema, X, y)
    _check_valid(plan, schema)
    owner = _owner(plan)
    block_a, block_b = list(X.columns[:5]), list(X.columns[5:9])
    assert len({owner[f] for f in block_a}) == 1
    assert len({owner[f] for f in block_b}) == 1
    assert owner[block_a[0]] != owner[block_b[0]]
    if names:
        assert owner["lab_risk"] == "Lab"
        assert owner["body_leg"] == "Body"
        # block A is associated with the label and with the categorical: first
        assert plan.roles[0].name == "Lab"


def test_association_measures():
    X, _ = _blocks()
    X["const_num"] = 3.0
    X["const_cat"] = "same"
    schema = Schema.infer(X)
    assoc = association_matrix(schema, X)
    names = schema.names
    assert assoc.shape == (len(names), len(names))
    assert np.allclose(assoc, assoc.T)
    assert np.allclose(np.diag(assoc), 1.0)
    assert assoc.min() >= 0.0 and assoc.max() <= 1.0
    i = names.index
    assert assoc[i("lab_glucose"), i("lab_insulin")] > 0.8  # Spearman
    assert assoc[i("lab_glucose"), i("lab_hba1c")] > 0.8  # monotone, not linear
    assert assoc[i("lab_risk"), i("lab_glucose")] > 0.6  # eta
    assert assoc[i("lab_glucose"), i("body_height")] < 0.3
    assert assoc[i("pet"), i("lab_risk")] < 0.2  # bias-corrected V of noise
    for c in ("const_num", "const_cat"):
        row = np.delete(assoc[i(c)], i(c))
        assert np.all(row == 0.0)


def test_cramers_v_of_identical_categoricals_is_one():
    rng = np.random.default_rng(1)
    s = rng.choice(["a", "b", "c"], 300)
    X = pd.DataFrame({"x": s, "y": s, "z": rng.choice(["u", "v"], 300)})
    assoc = association_matrix(Schema.infer(X), X)
    assert assoc[0, 1] == pytest.approx(1.0)
    assert assoc[0, 2] < 0.15


def test_max_role_features_on_30_columns():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(200, 1))
    # one big block of 20 correlated columns and 10 noise columns
    values = np.hstack([base + 0.3 * rng.normal(size=(200, 20)),
                        rng.normal(size=(200, 10))])
    X = pd.DataFrame(values, columns=[f"c{i}" for i in range(30)])
    schema = Schema.infer(X)
    for cap in (8, 5, 3):
        plan = data_plan(schema, X, max_role_features=cap)
        _check_valid(plan, schema)
        assert max(len(r.features) for r in plan.roles) <= cap
        assert is_degenerate(plan, schema, max_role_features=cap) == ""
    plan = data_plan(schema, X, max_role_features=100)
    assert max(len(r.features) for r in plan.roles) <= 15  # at most half


def test_deterministic():
    X, y = _blocks()
    schema = Schema.infer(X, y)
    first = data_plan(schema, X, y, reason="why")
    for _ in range(3):
        assert data_plan(schema, X.copy(), y.copy(), reason="why") == first
    assert first.repairs[0] == "why"
    assert "feature association in D_ori" in first.repairs[-1]
    assert "max 6 features per role" in first.repairs[-1]
    assert data_plan(schema, X, y).repairs == first.repairs[1:]


def test_role_names_come_from_feature_names():
    X, y = _blocks()
    schema = Schema.infer(X, y)
    plan = data_plan(schema, X, y)
    for role in plan.roles:
        tokens = {t for f in role.features for t in module._tokens(f)}
        assert (role.name.lower() in tokens
                or role.name == f"{role.features[0]} group")
    X2, _ = _blocks(names=False)
    plan2 = data_plan(Schema.infer(X2), X2)
    for role in plan2.roles:
        assert role.name == f"{role.features[0]} group"


def test_role_names_are_unique_when_tokens_collide():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=200), rng.normal(size=200)
    X = pd.DataFrame({
        "heart_rate_rest": a, "heart_rate_peak": a + 0.1 * rng.normal(size=200),
        "heart_rate_mean": a + 0.1 * rng.normal(size=200),
        "heart_size_a": b, "heart_size_b": b + 0.1 * rng.normal(size=200),
        "heart_size_c": b + 0.1 * rng.normal(size=200),
    })
    plan = data_plan(Schema.infer(X), X, max_role_features=3)
    names = [r.name for r in plan.roles]
    assert len(set(n.lower() for n in names)) == len(names)
    assert sorted(names) == ["Rate", "Size"]  # "heart" is on every feature


def test_description_tokens_give_a_bonus():
    rng = np.random.default_rng(4)
    X = pd.DataFrame(rng.normal(size=(200, 4)), columns=["p", "q", "r", "s"])
    plain = Schema.infer(X)
    desc = Schema.infer(X, descriptions={"p": "serum sodium", "s": "serum potassium"})
    a0 = module._token_overlap(plain)
    a1 = module._token_overlap(desc)
    assert np.all(a0 == 0)
    assert a1[0, 3] == pytest.approx(0.5) and a1[0, 1] == 0


def test_neighbouring_columns_group_when_nothing_else_tells():
    # ten independent columns whose names share no word: only the column
    # order links them, so every role is a run of neighbouring columns
    rng = np.random.default_rng(7)
    names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
             "hotel", "india", "juliet"]
    X = pd.DataFrame(rng.normal(size=(5000, 10)), columns=names)
    schema = Schema.infer(X)
    plan = data_plan(schema, X)
    _check_valid(plan, schema)
    assert len(plan.roles) >= 2
    for role in plan.roles:
        positions = sorted(names.index(f) for f in role.features)
        assert positions == list(range(positions[0], positions[-1] + 1)), role
    # the same columns in reverse order give the same runs
    reverse = data_plan(Schema.infer(X[names[::-1]]), X[names[::-1]])
    assert sorted(sorted(r.features) for r in reverse.roles) == sorted(
        sorted(r.features) for r in plan.roles)


def test_tokens():
    assert module._tokens("Blood_Pressure (mmhg) of the 2nd visit") == [
        "blood", "pressure", "mmhg", "2nd", "visit"]
    # two-letter capitals are abbreviations: kept
    assert module._tokens("restingBP") == ["resting", "bp"]
    assert module._tokens("SalePriceCH") == ["sale", "price", "ch"]
    assert module._tokens("StoreID of an HTTPServer") == [
        "store", "id", "http", "server"]
    assert module._tokens("mmHg") == []  # camelCase split: "mm", "hg"
    assert module._tokens("x1") == []
    assert module._tokens(None) == []


def test_mixed_types_and_constant_columns():
    rng = np.random.default_rng(5)
    X = pd.DataFrame({
        "age": rng.integers(20, 80, 50),
        "flag": rng.choice([True, False], 50),
        "colour": rng.choice(["red", "green"], 50),
        "one_num": 7,
        "one_cat": "k",
        "score": rng.normal(size=50),
        "grade": rng.choice([1, 2, 3], 50).astype(str),
    })
    schema = Schema.infer(X, rng.integers(0, 2, 50))
    plan = data_plan(schema, X, rng.integers(0, 2, 50))
    _check_valid(plan, schema)
    assert is_degenerate(plan, schema) == ""


@pytest.mark.parametrize("n_features", [1, 2, 3])
def test_tiny_tables(n_features):
    rng = np.random.default_rng(6)
    X = pd.DataFrame(rng.normal(size=(10, n_features)),
                     columns=[f"col{i}" for i in range(n_features)])
    schema = Schema.infer(X)
    plan = data_plan(schema, X)
    _check_valid(plan, schema)
    if n_features == 1:
        assert plan.roles == (Role("col0 group", ("col0",)),)
        assert plan.edges == ()


def test_array_input_and_bad_label():
    X, y = _blocks()
    schema = Schema.infer(X, y)
    assert data_plan(schema, X.to_numpy(dtype=object), y) == data_plan(schema, X, y)
    with pytest.raises(ValueError, match="rows"):
        data_plan(schema, X, y[:10])


def _schema(n):
    return Schema.infer(pd.DataFrame({f"f{i}": [0.0, 1.0] for i in range(n)}))


def test_is_degenerate_lopsided():
    schema = _schema(8)
    names = schema.names
    big = Plan((Role("A", tuple(names[:5])), Role("B", tuple(names[5:]))),
               (("A", "B"),), source="manager")
    assert "more than half" in is_degenerate(big, schema)
    even = Plan((Role("A", tuple(names[:4])), Role("B", tuple(names[4:]))),
                (("A", "B"),), source="manager")
    assert is_degenerate(even, schema) == ""
    assert "max_role_features=3" in is_degenerate(even, schema, max_role_features=3)
    # fewer than 6 features: a lopsided role is fine, one role is not
    small = _schema(5)
    assert is_degenerate(Plan((Role("A", tuple(small.names[:4])),
                               Role("B", tuple(small.names[4:]))),
                              (("A", "B"),)), small) == ""
    assert "one role for 5 features" in is_degenerate(
        Plan((Role("All", tuple(small.names)),)), small)
    # fewer than 4 features: one role is fine
    tiny = _schema(3)
    assert is_degenerate(Plan((Role("All", tuple(tiny.names)),)), tiny) == ""


def test_is_degenerate_repaired_manager_plans():
    schema = _schema(4)
    names = schema.names
    remaining = repair_plan({"roles": [{"name": "A", "features": names[:2]}]},
                            schema)
    assert remaining.source == "manager (repaired)"
    assert "Remaining features" in is_degenerate(remaining, schema)
    dropped = repair_plan({"roles": [{"name": "A", "features": names},
                                     {"name": "B", "features": names[:1]}]},
                          schema)
    assert "dropped role 'B'" in is_degenerate(dropped, schema)
    # a repair that only drops an edge is not degenerate
    edge = repair_plan({"roles": [{"name": "A", "features": names[:2]},
                                  {"name": "B", "features": names[2:]}],
                        "edges": [[0, 1], [1, 0]]}, schema)
    assert edge.source == "manager (repaired)"
    assert is_degenerate(edge, schema) == ""
    clean = repair_plan({"roles": [{"name": "A", "features": names[:2]},
                                   {"name": "B", "features": names[2:]}]}, schema)
    assert clean.source == "manager" and is_degenerate(clean, schema) == ""
    # two roles given one name: the model did not tell them apart
    twins = repair_plan({"roles": [{"name": "A", "features": names[:2]},
                                   {"name": "A", "features": names[2:]}]}, schema)
    assert "renamed duplicate role 'A'" in is_degenerate(twins, schema)


def test_fit_role_names_renames_roles_named_after_no_feature_of_theirs():
    X = pd.DataFrame({"blood_pressure": [1.0, 2.0], "pressure_max": [1.0, 3.0],
                      "age": [30, 40], "income": [1.0, 2.0], "tax_income": [0.1, 0.2]})
    schema = Schema.infer(X, descriptions={"income": "yearly earnings"})
    plan = Plan((Role("Age", ("blood_pressure", "pressure_max")),
                 Role("Earnings", ("income",)),
                 Role("Age 2", ("age", "tax_income"))),
                (("Age", "Earnings"), ("Earnings", "Age 2")), source="manager")
    fitted = fit_role_names(plan, schema)
    # "Earnings" is a word of income's description and "Age 2" of age: kept;
    # "Age" holds no age: named as the data plan names a role
    assert [r.name for r in fitted.roles] == ["Pressure", "Earnings", "Age 2"]
    assert [r.features for r in fitted.roles] == [r.features for r in plan.roles]
    assert fitted.edges == (("Pressure", "Earnings"), ("Earnings", "Age 2"))
    assert fitted.source == "manager (repaired)"
    assert fitted.repairs == ("renamed role 'Age' to 'Pressure': its name is no "
                              "word of its features",)
    # a new name never takes one in use
    clash = Plan((Role("Pressure", ("age",)),
                  Role("Income", ("blood_pressure", "pressure_max")),
                  Role("Tax", ("income", "tax_income"))), source="manager")
    fitted = fit_role_names(clash, schema)
    assert [r.name for r in fitted.roles] == ["age group", "Pressure", "Tax"]
    assert len({r.name for r in fitted.roles}) == 3
    # every name fits: the same plan back
    fine = Plan((Role("Pressure", ("blood_pressure", "pressure_max")),
                 Role("Income", ("age", "income", "tax_income"))), source="manager")
    assert fit_role_names(fine, schema) is fine


def test_120_columns_is_fast():
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(200, 120)), columns=[f"f{i}" for i in range(120)])
    for i in range(0, 120, 3):
        X[f"f{i}"] = X[f"f{i}"].round().astype(int).astype(str)
    schema = Schema.infer(X)
    start = time.perf_counter()
    plan = data_plan(schema, X)
    elapsed = time.perf_counter() - start
    _check_valid(plan, schema)
    assert max(len(r.features) for r in plan.roles) <= 8
    assert elapsed < 10.0


@pytest.mark.parametrize("n_features", [40, 80, 120])
def test_wide_noise_table_gets_few_large_roles_and_a_shallow_dag(n_features):
    # 30 rows of unrelated columns: every pair of roles shows a chance
    # association of about 0.15, which must not link them all into a chain
    rng = np.random.default_rng(n_features)
    X = pd.DataFrame(np.round(rng.normal(size=(30, n_features)), 2),
                     columns=[f"x{i}" for i in range(n_features)])
    schema = Schema.infer(X)
    plan = data_plan(schema, X)
    _check_valid(plan, schema)
    n_roles = len(plan.roles)
    assert n_roles <= max(module.MAX_ROLES, 1.5 * -(-n_features // 8))
    assert len(plan.edges) <= 2 * n_roles
    assert len(plan.levels()) <= n_roles // 2 + 1


def test_edge_threshold_is_above_chance():
    assert module.edge_threshold(30) > 0.8 / np.sqrt(30)
    assert module.edge_threshold(10_000) == module.EDGE_THRESHOLD


@pytest.mark.parametrize("func", [data_plan, is_degenerate, association_matrix])
def test_docstrings_document_every_parameter(func):
    docscrape = pytest.importorskip("numpydoc.docscrape")
    doc = docscrape.FunctionDoc(func)
    documented = [n.strip() for p in doc["Parameters"] for n in p.name.split(",")]
    expected = list(inspect.signature(func).parameters)
    assert documented == expected
    assert doc["Returns"]
