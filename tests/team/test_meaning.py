"""What the feature names mean: the similarity the data plan adds.

``_Vectors`` is a test double of a backend's ``embed`` (fixed vectors per
text) for the pure logic; the last tests run the real bundled model.
"""

import numpy as np
import pandas as pd

from skteam import Schema
from skteam.team.data_plan import data_plan
from skteam.team.meaning import feature_text, has_words, meaning_similarity


class _Vectors:
    """Test double: ``embed`` returns the vector given for each text's name."""

    def __init__(self, vectors):
        self.vectors = vectors
        self.calls = []

    def embed(self, texts):
        self.calls.append(list(texts))
        return np.array([self.vectors[t.split(":")[0]] for t in texts], float)


def _schema(names, descriptions=None):
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(30, len(names))),
                     columns=names)
    return X, Schema.infer(X, descriptions=descriptions or {})


def test_feature_text_and_words():
    _, schema = _schema(["sleepQuality", "x12", "V3", "bp", "blood_sugar"],
                        {"bp": "systolic blood pressure", "x12": "income"})
    specs = list(schema.features)
    assert feature_text(specs[0]) == "sleepQuality"
    assert feature_text(specs[3]) == "bp"  # descriptions count as shared words only
    assert [has_words(s) for s in specs] == [True, False, False, False, True]


def test_similarity_is_centred_cosine_and_skips_wordless_features():
    _, schema = _schema(["income", "wealth", "x1", "children"])
    backend = _Vectors({"income": [1.0, 0.1, 0.0], "wealth": [0.9, 0.2, 0.0],
                        "children": [0.0, 0.0, 1.0]})
    sim = meaning_similarity(backend, schema)
    assert backend.calls == [["income", "wealth", "children"]]  # x1 not embedded
    assert sim.shape == (4, 4)
    np.testing.assert_allclose(sim, sim.T)
    np.testing.assert_allclose(np.diag(sim), 1.0)
    assert sim[0, 1] > 0.9                       # close meanings
    assert sim[0, 3] == 0 and sim[1, 3] == 0     # opposite after centring: clipped
    assert np.all(sim[2, [0, 1, 3]] == 0)        # no words, no meaning
    assert np.all((sim >= 0) & (sim <= 1))


def test_no_similarity_without_an_embedding_backend():
    _, schema = _schema(["income", "wealth", "children"])
    assert meaning_similarity(None, schema) is None
    assert meaning_similarity(object(), schema) is None

    class _NoWeights:
        def embed(self, texts):
            return None

    assert meaning_similarity(_NoWeights(), schema) is None
    _, wordless = _schema(["x1", "x2", "income"])
    assert meaning_similarity(_Vectors({}), wordless) is None  # one worded feature


def test_meaning_groups_what_association_cannot_tell_apart():
    # independent columns: association alone leaves the grouping to noise
    X, schema = _schema(["income", "wealth", "savings", "kids", "babies", "toddlers"])
    money, family = [1.0, 0.0], [0.0, 1.0]
    backend = _Vectors({n: money if i < 3 else family
                        for i, n in enumerate(schema.names)})
    plan = data_plan(schema, X, meaning=meaning_similarity(backend, schema))
    groups = {frozenset(r.features) for r in plan.roles}
    assert groups == {frozenset(["income", "wealth", "savings"]),
                      frozenset(["kids", "babies", "toddlers"])}
    assert "what the names mean" in plan.repairs[-1]
    assert "what the names mean" not in data_plan(schema, X).repairs[-1]


def test_meaning_does_not_change_order_or_edges_of_the_same_groups():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=80), rng.normal(size=80)
    X = pd.DataFrame({"p": a, "q": a + 0.1 * rng.normal(size=80),
                      "r": b, "s": b + 0.1 * rng.normal(size=80)})
    schema = Schema.infer(X)
    y = (a > 0).astype(int)
    backend = _Vectors({"p": [1, 0], "q": [1, 0], "r": [0, 1], "s": [0, 1]})
    with_meaning = data_plan(schema, X, y, meaning=meaning_similarity(backend, schema))
    without = data_plan(schema, X, y)
    assert with_meaning.roles == without.roles
    assert with_meaning.edges == without.edges


def test_make_plan_embeds_only_when_it_builds_a_data_plan(monkeypatch):
    import skteam.team.planning as planning
    from skteam.team.plan import Plan, Role
    from skteam.team.planning import make_plan

    X, schema = _schema(["income", "wealth", "savings", "kids", "babies", "toddlers"])

    backend = _Vectors({n: [1.0, 0.0] if i < 3 else [0.0, 1.0]
                        for i, n in enumerate(schema.names)})
    fine = Plan((Role("Money", tuple(schema.names[:3])),
                 Role("Family", tuple(schema.names[3:]))), (("Money", "Family"),),
                source="manager")
    monkeypatch.setattr(planning, "plan_with_manager", lambda *a, **k: fine)
    kept = make_plan(backend, schema, X, seed=0)
    assert kept.source.startswith("manager")  # renamed after its features
    assert [r.features for r in kept.roles] == [r.features for r in fine.roles]
    assert backend.calls == []  # the manager's plan was used: nothing embedded

    one = Plan((Role("All", tuple(schema.names)),), source="manager")
    monkeypatch.setattr(planning, "plan_with_manager", lambda *a, **k: one)
    used = make_plan(backend, schema, X, seed=0)
    assert len(backend.calls) == 1 and used.source == "data"
    assert {frozenset(r.features) for r in used.roles} == {
        frozenset(schema.names[:3]), frozenset(schema.names[3:])}


def test_real_model_embeddings_batch_as_one_by_one(embedded_backend):
    texts = ["income: yearly household income", "kids",
             "number of children under five years old in the family"]
    together = embedded_backend.embed(texts)
    alone = np.vstack([embedded_backend.embed([t]) for t in texts])
    assert together.shape == (3, embedded_backend.model.config.hidden_size)
    assert together.dtype == np.float32 and np.isfinite(together).all()
    # right padding: a text's states do not see the texts padded beside it
    # (bf16 rounding of a batched product differs slightly)
    cos = (together * alone).sum(1) / (np.linalg.norm(together, axis=1)
                                       * np.linalg.norm(alone, axis=1))
    assert np.all(cos > 0.99)
    assert embedded_backend.embed([]).shape[0] == 0


def test_real_model_reads_related_names_as_closer(embedded_backend):
    X = pd.DataFrame(np.zeros((5, 6)), columns=[
        "mother_age", "father_age", "child_age",
        "loan_amount", "loan_rate", "loan_term"])
    schema = Schema.infer(X, descriptions={
        "mother_age": "age of the mother in years",
        "father_age": "age of the father in years",
        "child_age": "age of the child in years",
        "loan_amount": "amount of the mortgage loan in dollars",
        "loan_rate": "interest rate of the mortgage loan",
        "loan_term": "term of the mortgage loan in months"})
    sim = meaning_similarity(embedded_backend, schema)
    within = np.mean([sim[i, j] for block in ((0, 1, 2), (3, 4, 5))
                      for i in block for j in block if i < j])
    across = np.mean([sim[i, j] for i in (0, 1, 2) for j in (3, 4, 5)])
    assert within > across + 0.2


def test_a_backend_without_weights_embeds_nothing(uniform_backend):
    assert uniform_backend.embed(["income"]) is None
