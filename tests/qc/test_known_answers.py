"""Known answers of the calibrated QC stages at their defaults, on real rows.

The sampler's use case: ``D_ori`` is a tiny imbalanced table (8 minority +
40 majority rows) and a batch of 10 rows is judged for the minority class.
A batch of *held-out real* minority rows is what a perfect generator would
write: the default QC must accept it in at least half of the draws. Held-out
majority rows labelled as the minority ("flipped") must be accepted in at
most 5 % of the draws, and copies of one training row must be rejected by the
diversity stage. No LLM is involved; the tables ship with scikit-learn.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_wine

from skteam.qc import TrimQC
from skteam.qc import cost as cost_module

DRAWS = 20
# fewer null draws than the default 1000 keep the test short; the decision
# of a clear batch is the same (the draws are consumed sequentially anyway)
NULL_DRAWS = 200


def breast_cancer():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X.iloc[:, :10], (y.to_numpy() == 0).astype(int)  # malignant = 1


def wine():
    X, y = load_wine(return_X_y=True, as_frame=True)
    return X, (y.to_numpy() == 2).astype(int)


def draw(y, seed, n_min=8, n_maj=40, n_batch=10):
    rng = np.random.default_rng(seed)
    minority = rng.permutation(np.flatnonzero(y == 1))
    majority = rng.permutation(np.flatnonzero(y == 0))
    return (np.r_[minority[:n_min], majority[:n_maj]],
            minority[n_min:n_min + n_batch], majority[n_maj:n_maj + n_batch])


@pytest.fixture(scope="module", params=[breast_cancer, wine], ids=lambda f: f.__name__)
def verdicts(request):
    X, y = request.param()
    out = {"real": [], "flipped": [], "copies": []}
    for seed in range(DRAWS):
        train, held, other = draw(y, seed)
        X_tr, y_tr = X.iloc[train].reset_index(drop=True), y[train]
        qc = TrimQC(cost_null_draws=NULL_DRAWS, random_state=seed).fit(X_tr, y_tr)
        for kind, idx in (("real", held), ("flipped", other)):
            # "flipped": majority rows labelled as the minority class
            X_b = X.iloc[idx].reset_index(drop=True)
            out[kind].append(qc.trim_batch(X_b, np.ones(len(X_b), int), target=1))
        # the diversity stage alone: the cost stage may already reject copies
        div = TrimQC(stages=("sanity", "diversity"), random_state=seed).fit(X_tr, y_tr)
        copies = pd.concat([X_tr.iloc[[seed % 8]]] * 10, ignore_index=True)
        out["copies"].append(div.trim_batch(copies, np.ones(10, int), target=1))
    cost_module.clear_cache()
    return out


def test_held_out_real_rows_are_accepted_in_at_least_half_the_draws(verdicts):
    accepted = [v.accepted for v in verdicts["real"]]
    assert np.mean(accepted) >= 0.5, [v.verdict for v in verdicts["real"]]


def test_flipped_labels_are_accepted_in_at_most_5_percent(verdicts):
    accepted = [v.accepted for v in verdicts["flipped"]]
    assert np.mean(accepted) <= 0.05, [v.verdict for v in verdicts["flipped"]]


def test_copies_of_one_training_row_are_rejected_by_diversity(verdicts):
    for v in verdicts["copies"]:
        assert not v.accepted
        assert v.diversity is not None and v.diversity.regime == "duplicates"
