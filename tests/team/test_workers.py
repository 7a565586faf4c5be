"""Role workers see their parents only (grammar-only double; labelled test double).

The model is not the subject of most tests here: ``uniform_backend`` (the
grammar-only test double) answers every prompt with valid random rows, and
``Recorder`` keeps each prompt it was sent, so what a worker is shown can be
read off the prompts themselves. The last test runs the real bundled model.
"""

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from skteam import Schema, TeamTrimSampler
from skteam.team import ExamplePool, load_plan
from skteam.team.workers import generate_features, shown_upstream

# column names that no prompt text holds by chance
COLUMNS = {"Base": ["qa_len", "qa_wid"], "Mid": ["qb_cnt"],
           "Side": ["qc_val", "qc_alt"], "Top": ["qd_sum", "qd_dif"],
           "Alone": ["qe_one"]}
# Base -> Mid -> Top <- Side; Alone is nobody's parent or child
PLAN = {"roles": [{"name": n, "features": f} for n, f in COLUMNS.items()],
        "edges": [["Base", "Mid"], ["Mid", "Top"], ["Side", "Top"]]}
ANCESTORS = {"Base": [], "Mid": ["Base"], "Side": [], "Top": ["Base", "Mid", "Side"],
             "Alone": []}
ALL = [c for cols in COLUMNS.values() for c in cols]


class Recorder:
    """Test double: ``test::uniform`` that keeps every prompt it is sent."""

    def __init__(self, inner):
        self.inner = inner
        self.sent = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def generate(self, prompts_, grammars, **kw):
        self.sent.extend(prompts_)
        return self.inner.generate(prompts_, grammars, **kw)


def _table(n=24, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({c: np.round(rng.normal(10, 3, n), 1) for c in ALL})
    y = np.array([0] * (n - 8) + [1] * 8)
    return X, y


def _named(prompt):
    """The columns a worker prompt names anywhere in its text."""
    return {c for c in ALL if re.search(rf"\b{c}\b", prompt)}


def _role_of(prompt):
    return re.search(r"You are the (\w+)\. Task", prompt).group(1)


def test_worker_prompt_shows_its_role_and_its_ancestors_only(uniform_backend):
    X, y = _table()
    schema = Schema.infer(X, y)
    plan = load_plan(PLAN, schema)
    backend = Recorder(uniform_backend)
    values, failures, _ = generate_features(
        backend, schema, plan, ExamplePool(schema, X, y), [1, 1], [(0, 1), (0, 2)],
        rows_per_prompt=2, n_examples=3)
    assert failures == 0 and all(set(v) == set(ALL) for v in values)
    seen = set()
    for prompt in backend.sent:
        role = _role_of(prompt)
        seen.add(role)
        expected = set(COLUMNS[role]) | {c for a in ANCESTORS[role] for c in COLUMNS[a]}
        assert _named(prompt) == expected, role
        # the feature list describes exactly those columns
        listed = re.findall(r"^- (\w+) \(", prompt, flags=re.M)
        assert sorted(listed) == sorted(expected)
        # every example row has one cell per shown column
        header = re.search(r"^Real records with .*\((.*)\):$", prompt, flags=re.M)
        rows = prompt[header.end():].split("\n")[1:4]
        assert all(len(re.split(r",| -> ", r)) == len(expected) for r in rows)
    assert seen == set(COLUMNS)


def test_shown_upstream_is_every_ancestor_column_in_plan_order():
    schema = Schema.infer(*_table())
    plan = load_plan(PLAN, schema)
    for role, ancestors in ANCESTORS.items():
        want = [c for r in COLUMNS if r in ancestors for c in COLUMNS[r]]
        assert shown_upstream(plan, role) == want
        assert shown_upstream(plan, role, None) == want


def test_a_deep_plan_shows_the_nearest_ancestors_up_to_the_cap():
    cols = [f"f{i}" for i in range(12)]
    X = pd.DataFrame({c: np.arange(10.0) for c in cols})
    schema = Schema.infer(X, np.array([0, 1] * 5))
    # a chain of six roles of two columns; R5 also has R0 as a parent
    roles = [{"name": f"R{i}", "features": cols[2 * i:2 * i + 2]} for i in range(6)]
    edges = [[f"R{i}", f"R{i + 1}"] for i in range(5)] + [["R0", "R5"]]
    plan = load_plan({"roles": roles, "edges": edges}, schema)
    assert shown_upstream(plan, "R5", None) == cols[:10]
    # parents R0 and R4 (distance 1) first, then R3 (distance 2)
    assert shown_upstream(plan, "R5", 4) == ["f0", "f1", "f8", "f9"]
    assert shown_upstream(plan, "R5", 5) == ["f0", "f1", "f6", "f8", "f9"]
    assert shown_upstream(plan, "R2", 1) == ["f2"]
    assert shown_upstream(plan, "R5", 0) == []


def test_capped_prompts_and_answers_stay_consistent(uniform_backend):
    """The forced start of an answer line holds exactly the columns shown."""
    X, y = _table()
    schema = Schema.infer(X, y)
    plan = load_plan(PLAN, schema)
    backend = Recorder(uniform_backend)
    values, failures, _ = generate_features(
        backend, schema, plan, ExamplePool(schema, X, y), [1], [(0, 1)],
        rows_per_prompt=2, n_examples=2, max_upstream_features=1)
    assert failures == 0 and all(set(v) == set(ALL) for v in values)
    top = next(p for p in backend.sent if _role_of(p) == "Top")
    # Top's parents Mid and Side are nearest; one column of the first (Mid)
    assert _named(top) == {"qb_cnt", "qd_sum", "qd_dif"}


def test_rows_depend_on_prompt_grammar_and_seed_only(uniform_backend):
    X, y = _table()
    schema = Schema.infer(X, y)
    plan = load_plan(PLAN, schema)
    pool = ExamplePool(schema, X, y)

    def run(keys):
        return generate_features(uniform_backend, schema, plan, pool, [1] * len(keys),
                                 keys, rows_per_prompt=2, n_examples=3)[0]

    one = run([(5, 1), (5, 2)])
    again = run([(5, 2), (5, 1), (5, 3)])  # other groups alongside, other order
    assert one[:2] == again[2:4] and one[2:] == again[:2]
    assert run([(6, 1)]) != one[:2]


def test_anchored_rows_take_their_anchors_signs_and_constraints_win(uniform_backend):
    from skteam.constraints import parse_constraint

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"qa_len": rng.normal(0, 1, 24).round(2),
                      "qb_cnt": rng.integers(-5, 6, 24),
                      "qc_val": rng.normal(5, 1, 24).round(1)})
    y = np.array([0] * 12 + [1] * 12)
    schema = Schema.infer(X, y)
    plan = load_plan({"roles": [{"name": "A", "features": ["qa_len", "qc_val"]},
                                {"name": "B", "features": ["qb_cnt"]}],
                      "edges": [["A", "B"]]}, schema)
    pool = ExamplePool(schema, X, y)
    assert pool.signed == ["qa_len", "qb_cnt"]
    anchors = list(pool.anchors(np.random.default_rng(0), 40, 1))
    # the constraint leaves qb_cnt no negative value where qa_len > 0: it wins
    cs = [parse_constraint("qb_cnt >= qa_len", schema)]
    values, failures, _ = generate_features(
        uniform_backend, schema, plan, pool, [1] * 8, [(0, g) for g in range(8)],
        rows_per_prompt=5, n_examples=3, anchors=anchors, constraints=cs)
    assert failures == 0
    for row, a in zip(values, anchors):
        assert (row["qa_len"] < 0) == (X["qa_len"][a] < 0)
        if row["qa_len"] <= -1:  # else the constraint leaves no negative qb_cnt
            assert (row["qb_cnt"] < 0) == (X["qb_cnt"][a] < 0)
        assert row["qb_cnt"] >= row["qa_len"]  # the constraint's range won
    free, *_ = generate_features(
        uniform_backend, schema, plan, pool, [1] * 8, [(0, g) for g in range(8)],
        rows_per_prompt=5, n_examples=3)
    # without anchors the test double's signs do not follow the anchors
    assert any((r["qa_len"] < 0) != (X["qa_len"][a] < 0)
               for r, a in zip(free, anchors))


@pytest.mark.slow
def test_real_model_returns_rows_of_a_40_column_table(embedded_backend):
    """The default plan of a 40-column table is split into roles, and the
    bundled model writes its rows; no prompt shows the whole table."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({f"m{i}": np.round(rng.normal(50, 10, 30), 1) for i in range(40)})
    y = np.array([0] * 24 + [1] * 6)
    backend = Recorder(embedded_backend)
    sampler = TeamTrimSampler(model=backend, qc=(), sampling_strategy={1: 9},
                              batch_size=3, max_batches=1, random_state=0, verbose=0,
                              labeling="target")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no example was dropped
        Xr, yr = sampler.fit_resample(X, y)
    roles = sampler.plan_["roles"]
    assert len(roles) >= 2 and max(len(r["features"]) for r in roles) < 40
    new = Xr[sampler.synthetic_mask_]
    assert len(new) == 3 and (yr[sampler.synthetic_mask_] == 1).all()
    assert new.notna().all().all()
    workers = [p for p in backend.sent if "Task: write the values" in p]
    assert workers and all(
        len(re.findall(r"^- m\d+ \(", p, flags=re.M)) < 40 for p in workers)


def test_real_model_rows_keep_the_sign_patterns_of_real_rows(embedded_backend):
    """The bundled model drops minus signs; anchored rows take a real row's."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({f"x{i}": rng.normal(0, 1, 40).round(2) for i in range(6)})
    y = np.array([0] * 20 + [1] * 20)
    sampler = TeamTrimSampler(model=embedded_backend, qc=(), sampling_strategy={1: 26},
                              batch_size=6, random_state=0, verbose=0,
                              labeling="target")
    Xr, _ = sampler.fit_resample(X, y)
    new = Xr[sampler.synthetic_mask_]
    real = {tuple(r) for r in (X[y == 1] < 0).to_numpy()}
    assert len(new) == 6
    assert all(tuple(r) in real for r in (new < 0).to_numpy())
    # a real row for each generated row: the shares of negatives stay close
    assert (new < 0).to_numpy().mean() >= (X[y == 1] < 0).to_numpy().mean() - 0.15


def test_real_model_rows_stay_in_the_bands_of_their_anchors(embedded_backend):
    """anchor_band holds the bundled model's numbers near a real row's."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"income": rng.normal(10.5, 0.6, 40).round(3),
                      "kids": rng.integers(0, 4, 40),
                      "foreign": rng.choice(["no", "yes"], 40)})
    y = np.array([0] * 28 + [1] * 12)
    sampler = TeamTrimSampler(model=embedded_backend, qc=(), sampling_strategy={1: 18},
                              batch_size=6, random_state=0, verbose=0,
                              labeling="target", anchor_band=0.5)
    Xr, _ = sampler.fit_resample(X, y)
    new = Xr[sampler.synthetic_mask_].reset_index(drop=True)
    anchors = sampler.provenance_["sign_anchor"].to_numpy()
    assert len(new) == 6 and not np.isnan(anchors).any()
    real = X.iloc[anchors.astype(int)].reset_index(drop=True)
    assert (y[anchors.astype(int)] == 1).all()  # anchors of the row's class
    half = 0.5 * X[y == 1][["income", "kids"]].std()
    assert ((new["income"] - real["income"]).abs() <= half["income"] + 1e-9).all()
    assert ((new["kids"] - real["kids"]).abs() <= half["kids"] + 1e-9).all()
    assert set(new["foreign"]) <= {"no", "yes"}  # categories written by the model


def test_real_model_first_cells_follow_the_examples(embedded_backend):
    """A root role's first cell starts where the examples start, not at "1":
    without the line mark, the bundled model began most answers as a numbered
    list (petal lengths of 1.1-1.6 for versicolor rows of 3.5-5.0)."""
    from skteam.demo import demo_data

    X, y = demo_data()
    plan = {"roles": [{"name": "Petal", "features": ["petal_length", "petal_width"]},
                      {"name": "Sepal", "features": ["sepal_length", "sepal_width"]}],
            "edges": [["Petal", "Sepal"]]}
    sampler = TeamTrimSampler(model=embedded_backend, plan=plan, qc=(),
                              sampling_strategy={"versicolor": 27}, random_state=0,
                              verbose=0, labeling="target")
    Xr, _ = sampler.fit_resample(X, y)
    new = Xr[sampler.synthetic_mask_]
    real = X.loc[y == "versicolor", "petal_length"]
    assert len(new) == 20 and real.min() >= 3.5
    # 4 of the 20 rows below 3.0 without the mark (AMD EPYC, bf16), none with it
    assert (new["petal_length"] < 3.0).mean() < 0.1
