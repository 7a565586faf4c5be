"""The optional curation stage (CLLM's learning dynamics)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from skteam.qc import TrimQC
from skteam.qc.curation import LearningDynamics
from skteam.schema import Schema


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X.iloc[:, :6], y.to_numpy()


def test_scores_are_probabilities_and_their_spread(data):
    X, y = data
    ld = LearningDynamics(random_state=0).fit(X.iloc[:80], y[:80],
                                              Schema.infer(X.iloc[:80], y[:80]))
    conf, alea = ld.scores(X.iloc[100:140], y[100:140])
    assert conf.shape == alea.shape == (40,)
    assert np.all((conf >= 0) & (conf <= 1))
    assert np.all((alea >= 0) & (alea <= 0.25))  # p (1 - p) <= 1/4


def test_true_labels_are_kept_more_than_flipped_ones(data):
    X, y = data
    qc = TrimQC(stages=("sanity", "curation"), random_state=0).fit(X.iloc[:80], y[:80])
    batch = X.iloc[100:160].reset_index(drop=True)
    true = qc.trim_batch(batch, y[100:160])
    flipped = qc.trim_batch(batch, 1 - y[100:160])
    # measured: 41 and 11 of 59 sane rows
    assert true.keep.sum() >= 0.6 * true.sane.sum()
    assert flipped.keep.sum() <= 0.25 * flipped.sane.sum()
    assert true.keep.sum() >= 3 * flipped.keep.sum()
    # the stage's count: what sanity left minus what curation kept
    assert flipped.dropped["curation"] == flipped.sane.sum() - flipped.keep.sum()
    assert "curation kept" in flipped.verdict


def test_unknown_label_is_dropped_and_one_class_learner_is_certain():
    X = pd.DataFrame({"a": np.arange(10.0)})
    y = np.zeros(10, dtype=int)
    ld = LearningDynamics().fit(X, y, Schema.infer(X, y))
    res = ld.evaluate(pd.DataFrame({"a": [1.0, 2.0]}), np.array([0, 1]))
    assert res.keep.tolist() == [True, False]


def test_threshold_is_a_hyperparameter(data):
    X, y = data
    kept = []
    for t in (0.05, 0.5):
        qc = TrimQC(stages=("curation",), curation_threshold=t,
                    random_state=0).fit(X.iloc[:80], y[:80])
        kept.append(qc.trim_batch(X.iloc[80:140], y[80:140]).keep.sum())
    assert kept[0] < kept[1]


def test_curation_is_off_by_default(data):
    X, y = data
    qc = TrimQC(random_state=0).fit(X.iloc[:60], y[:60])
    assert qc.curation_ is None
