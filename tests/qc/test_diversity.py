"""QC stage 3: the entropy rule on counts, and the clustering on real rows."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy

from skteam.qc import DiversityCheck, entropy_verdict
from skteam.qc.diversity import (
    best_counts,
    cluster_entropy,
    mirror_counts,
    worst_counts,
)
from skteam.schema import Schema

# -- the rule on counts ----------------------------------------------------------


def test_helpers():
    assert best_counts([5, 1, 0], 4).tolist() == [5, 3, 2]
    assert worst_counts([5, 1, 0], 4).tolist() == [9, 1, 0]
    assert mirror_counts([6, 3, 1], 5).tolist() == [9, 5, 1]   # 3, 1.5, .5 -> 3, 2, 0
    assert mirror_counts([0, 0, 0], 2).tolist() == [1, 1, 0]
    assert cluster_entropy([0, 0, 0]) == 0.0
    assert cluster_entropy([2, 2]) == pytest.approx(np.log(2))
    assert cluster_entropy([3, 1, 0]) == pytest.approx(entropy([3, 1]))


def test_filling_an_empty_cluster_is_accepted():
    res = entropy_verdict([12, 8, 0], [0, 0, 6], 0.3)
    assert res.accepted and res.regime == "keep"
    assert res.gain > 1  # more diverse than a batch like the reference
    assert res.entropy_after > res.entropy_before


def test_a_batch_in_the_biggest_cluster_is_rejected():
    res = entropy_verdict([12, 8, 0], [6, 0, 0], 0.3)
    assert not res.accepted and res.regime == "keep"
    assert res.gain == pytest.approx(0.0)  # the least diverse batch
    assert res.verdict.startswith("rejected")


def test_more_of_the_same_scores_one():
    # a batch in the reference's own proportions keeps its diversity: gain 1,
    # accepted at every threshold, although it cannot raise the entropy
    for before, batch in (([6, 3, 1], [6, 3, 1]), ([300, 200, 100], [5, 3, 2])):
        res = entropy_verdict(before, batch, 1.0)
        assert res.gain == pytest.approx(1.0) and res.accepted
    # the paper's raw relative gain: even the best batch of 10 cannot reach 30 %
    before = np.array([5, 2, 1])
    h0, h_best = cluster_entropy(before), cluster_entropy(best_counts(before, 10))
    assert (h_best - h0) / h0 < 0.3


def test_gain_orders_batches_by_spread():
    before = [300, 200, 100]
    gains = [entropy_verdict(before, b, 0.3).gain
             for b in ([10, 0, 0], [8, 2, 0], [5, 3, 2], [0, 5, 5], [0, 0, 10])]
    assert gains == sorted(gains) and gains[0] == pytest.approx(0.0)
    assert not entropy_verdict(before, [10, 0, 0], 0.3).accepted
    assert entropy_verdict(before, [0, 5, 5], 0.3).accepted


def test_threshold_extremes():
    assert entropy_verdict([12, 8, 2], [0, 0, 6], 1.0).accepted       # beyond mirror
    assert not entropy_verdict([12, 8, 2], [5, 1, 0], 1.0).accepted   # below it
    assert entropy_verdict([12, 8, 2], [5, 1, 0], 0.0).accepted       # anything goes
    assert entropy_verdict([12, 8, 2], [6, 0, 0], 0.0).accepted


def test_zero_entropy_reference():
    # all the class's rows in one cluster: no batch is less diverse than the mirror
    res = entropy_verdict([1, 0, 0], [0, 5, 5], 0.3)
    assert res.accepted and res.regime == "uninformative"
    assert entropy_verdict([1, 0, 0], [10, 0, 0], 0.3).accepted


def test_empty_reference_class():
    # the class is absent from D_ori: a spread batch is accepted, a lump is not
    assert entropy_verdict([0, 0, 0], [4, 3, 3], 0.3).accepted
    assert not entropy_verdict([0, 0, 0], [10, 0, 0], 0.3).accepted
    one = entropy_verdict([0, 0, 0], [1, 0, 0], 0.3)
    assert one.accepted and one.regime == "uninformative"


def test_uniform_reference_keeps_what_cannot_be_improved():
    res = entropy_verdict([10, 10, 10], [4, 3, 3], 0.3)
    assert res.regime == "keep" and res.accepted
    assert not entropy_verdict([10, 10, 10], [10, 0, 0], 0.3).accepted
    near = entropy_verdict([10, 10, 9], [4, 3, 3], 1.0)
    assert near.accepted


def test_duplicate_verdict():
    from skteam.qc.diversity import duplicate_verdict
    assert duplicate_verdict(10, 5, [3, 2, 1]) is None
    res = duplicate_verdict(10, 1, [3, 2, 1])
    assert not res.accepted and res.regime == "duplicates" and res.gain == 0.1
    assert duplicate_verdict(1, 1, [3, 2, 1]) is None


def test_some_batch_always_passes():
    rng = np.random.default_rng(0)
    for _ in range(200):
        k = rng.integers(3, 6)
        before = rng.integers(0, 30, k)
        m = int(rng.integers(1, 15))
        best = best_counts(before, m) - before
        for t in (0.0, 0.3, 1.0):
            assert entropy_verdict(before, best, t).accepted, (before, m, t)


def test_empty_batch():
    res = entropy_verdict([3, 2, 1], [0, 0, 0], 0.3)
    assert not res.accepted and res.regime == "empty"


# -- clustering real rows ----------------------------------------------------------

CENTRES = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])


def blobs(sizes, seed=0):
    rng = np.random.default_rng(seed)
    parts = [c + rng.normal(scale=0.5, size=(n, 2)) for c, n in zip(CENTRES, sizes)]
    return pd.DataFrame(np.vstack(parts), columns=["a", "b"])


def near(centre, n, seed=1):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(CENTRES[centre] + rng.normal(scale=0.3, size=(n, 2)),
                        columns=["a", "b"])


@pytest.fixture
def fitted():
    X = blobs([24, 12, 4])
    y = np.array([0] * 24 + [1] * 12 + [1] * 4)
    return DiversityCheck(random_state=0).fit(X, Schema.infer(X), y), X, y


def test_kmeans_finds_the_three_blobs(fitted):
    check, X, _ = fitted
    assert check.n_clusters_ == 3
    assert set(check.silhouettes_) == {3, 4, 5}
    assert check.silhouette_ == max(check.silhouettes_.values())
    assert sorted(np.bincount(check.labels_).tolist()) == [4, 12, 24]
    assert check.classifier_accuracy_ == 1.0


def test_batch_in_smallest_cluster_accepted_biggest_rejected(fitted):
    check, _, _ = fitted
    assert check.evaluate(near(2, 8)).accepted
    res = check.evaluate(near(0, 8))
    assert not res.accepted and res.gain == pytest.approx(0.0)


def test_per_class_reference_and_empty_cluster(fitted):
    check, _, _ = fitted
    # class 1 lives in blobs 1 and 2; blob 0 is an empty cluster for it
    res = check.evaluate(near(0, 6), target=1)
    assert res.accepted and res.counts_before.min() == 0
    # class 0 lives in blob 0 only: no batch is less diverse than more of blob 0
    same = check.evaluate(near(0, 6), target=0)
    assert same.accepted and same.regime == "uninformative"
    assert check.evaluate(near(2, 6), target=0).accepted
    # copies of one training row are rejected whatever cluster they land in
    X = fitted[1]
    copies = pd.concat([X.iloc[[5]]] * 6, ignore_index=True)
    for target in (None, 0, 1):
        res = check.evaluate(copies, target=target)
        assert not res.accepted and res.regime == "duplicates"
    # a class absent from D_ori has an empty reference
    assert check.evaluate(near(1, 6), target=7).counts_before.sum() == 0


def test_too_few_rows_is_skipped_with_a_verdict():
    X = pd.DataFrame({"a": [1.0, 1.0, 2.0, 2.0], "b": [0.0, 0.0, 1.0, 1.0]})
    check = DiversityCheck().fit(X, Schema.infer(X))
    res = check.evaluate(X)
    assert check.n_clusters_ is None
    assert res.accepted and res.verdict.startswith("skipped: too few rows")
    X3 = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 0.0]})
    assert DiversityCheck().fit(X3, Schema.infer(X3)).skipped_  # k must be < rows


def test_categorical_columns_are_one_hot_encoded():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({
        "x": np.r_[rng.normal(0, .3, 15), rng.normal(5, .3, 15), rng.normal(10, .3, 6)],
        "kind": ["a"] * 15 + ["b"] * 15 + ["c"] * 6,
    })
    check = DiversityCheck(random_state=0).fit(X, Schema.infer(X))
    assert check.n_clusters_ == 3
    batch = pd.DataFrame({"x": [10.0, 10.2, 9.9, 10.1], "kind": ["c"] * 4})
    assert check.evaluate(batch).accepted
    unseen = pd.DataFrame({"x": [0.0, 0.1], "kind": ["zzz", "a"]})
    assert check.predict(unseen).shape == (2,)  # unknown category encodes as zeros


def test_reproducible_and_threshold_validated():
    X = blobs([20, 10, 6], seed=3)
    s = Schema.infer(X)
    a = DiversityCheck(random_state=5).fit(X, s)
    b = DiversityCheck(random_state=5).fit(X, s)
    assert np.array_equal(a.labels_, b.labels_)
    assert np.array_equal(a.predict(near(1, 5)), b.predict(near(1, 5)))
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        DiversityCheck(threshold=30).fit(X, s)
