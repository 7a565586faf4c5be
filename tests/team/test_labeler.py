"""Which real rows the label worker is shown (pure logic, no model)."""

import numpy as np
import pandas as pd
import pytest

from skteam import Schema
from skteam.team.examples import ExamplePool
from skteam.team.labeler import _label_examples


@pytest.fixture
def pool():
    # class 0 has small x, class 1 large x, class 2 a single row in the middle
    X = pd.DataFrame({"x": [0, 1, 2, 3, 20, 21, 22, 23, 10],
                      "c": ["a", "b"] * 4 + ["a"]})
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])
    return ExamplePool(Schema.infer(X, pd.Series(y)), X, y), X, y


def test_balanced_shows_every_class(pool):
    pool, _, y = pool
    idx = _label_examples(pool, np.random.default_rng(0), 6, ["x", "c"],
                          [{"x": 0, "c": "a"}], "balanced")
    assert set(y[idx]) == {0, 1, 2}


def test_nearest_follows_the_rows_whatever_their_class(pool):
    pool, X, y = pool
    idx = _label_examples(pool, np.random.default_rng(0), 3, ["x"],
                          [{"x": 22, "c": "a"}], "nearest")
    assert set(y[idx]) == {1}
    assert 22 in X["x"].to_numpy()[idx]


def test_nearest_per_class_shows_the_closest_row_of_each_class(pool):
    pool, X, y = pool
    idx = _label_examples(pool, np.random.default_rng(0), 3, ["x"],
                          [{"x": 19, "c": "a"}], "nearest_per_class")
    assert sorted(y[idx]) == [0, 1, 2]
    shown = dict(zip(y[idx], X["x"].to_numpy()[idx]))
    assert shown[0] == 3 and shown[1] == 20 and shown[2] == 10


def test_unknown_choice_is_refused(pool):
    pool, _, _ = pool
    with pytest.raises(ValueError, match="example_choice='knn'"):
        _label_examples(pool, np.random.default_rng(0), 3, ["x"], [{"x": 1}], "knn")


# -- labeling="classifier" ------------------------------------------------------


def test_classifier_labeler_follows_the_real_rows():
    from sklearn.linear_model import LogisticRegression

    from skteam.schema import Schema
    from skteam.team.labeler import ClassifierLabeler

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60),
                      "c": rng.choice(["u", "v"], size=60)})
    y = np.where(X["a"] > 0, "pos", "neg")
    labeler = ClassifierLabeler(LogisticRegression(), Schema.infer(X, y), X, y)
    new = pd.DataFrame({"a": [3.0, -3.0], "c": ["u", "v"]})
    assert labeler(new).tolist() == ["pos", "neg"]
    one = ClassifierLabeler(LogisticRegression(), Schema.infer(X, y), X,
                            np.full(60, "neg"))
    assert one(new).tolist() == ["neg", "neg"]
