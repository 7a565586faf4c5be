"""QC stage 3: diversity inspection with cluster-label entropy (paper §2.2).

``D_ori`` is standardised (numeric columns scaled, categorical columns
one-hot), clustered with KMeans with ``k ∈ {3, 4, 5}`` chosen by the mean
silhouette score (Eq. 8), and an MLP learns to map any row to its cluster.
A batch is judged by the entropy of the cluster labels of
``D_ori ∪ D_t`` against that of ``D_ori``.

The paper's "percentage entropy improvement ≥ 30%" cannot be met by a
batch of 10–20 rows joining a class (not even by the best such batch, for
most cluster counts), and is undefined when ``D_ori`` has zero entropy.
skteam reads the threshold as the share of the diversity that a batch "like
the reference" (its own cluster proportions) would bring that the batch must
keep, measured from the least diverse batch of the same size; a batch of
mostly repeated rows is rejected. Exact definitions in
:func:`entropy_verdict` and ``docs/method.md``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import entropy as _scipy_entropy
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import silhouette_score
from sklearn.neural_network import MLPClassifier

from ..utils import resolve_seed
from ._encoding import as_frame, make_encoder

#: Candidate numbers of clusters (paper, appendix C).
K_RANGE = (3, 4, 5)
#: A batch with fewer distinct rows than this share of its rows is rejected.
MIN_DISTINCT_SHARE = 0.5
#: Hidden layer of the cluster classifier.
MLP_HIDDEN = (32,)
_TOL = 1e-12


@dataclass
class DiversityResult:
    """Outcome of the diversity check of one batch.

    Attributes
    ----------
    entropy_before : float
        ``H_old``: entropy (nats) of the cluster labels of the reference
        rows of ``D_ori``.
    entropy_after : float
        ``H_new``: the same after adding the batch rows.
    gain : float
        In the ``"keep"`` regime, the share of the diversity of a batch like
        the reference that the batch keeps,
        ``(H_new − H_worst) / (H_mirror − H_worst)``, compared with the
        threshold (1: more of the same; above 1: spreads into small
        clusters). In the ``"duplicates"`` regime, the share of distinct
        rows.
    accepted : bool
    verdict : str
        Starts with ``"accepted"``, ``"rejected"`` or ``"skipped"``, and
        names the regime.
    required : float
        What ``gain`` had to reach.
    regime : str
        ``"keep"``, ``"duplicates"``, ``"uninformative"``, ``"empty"`` or
        ``"skipped"``.
    entropy_best, entropy_worst : float
        Highest / lowest ``H_new`` any batch of the same size could give.
    counts_before, counts_batch : ndarray of int
        Cluster counts of the reference rows and of the batch.
    entropy_mirror : float
        ``H_new`` of a batch of the same size in the reference's own cluster
        proportions.
    """

    entropy_before: float
    entropy_after: float
    gain: float
    accepted: bool
    verdict: str
    required: float = np.nan
    regime: str = ""
    entropy_best: float = np.nan
    entropy_worst: float = np.nan
    counts_before: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    counts_batch: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    entropy_mirror: float = np.nan


def cluster_entropy(counts) -> float:
    """Shannon entropy (nats) of cluster counts; 0 for no rows."""
    counts = np.asarray(counts, dtype=float)
    return float(_scipy_entropy(counts)) if counts.sum() > 0 else 0.0


def best_counts(counts, m: int) -> np.ndarray:
    """Counts after adding ``m`` rows so as to maximise the entropy.

    Water-filling: each row goes to the currently smallest cluster (ties:
    lowest index); this greedy allocation is optimal because entropy is
    Schur-concave.
    """
    out = np.asarray(counts, dtype=int).copy()
    for _ in range(int(m)):
        out[np.argmin(out)] += 1
    return out


def worst_counts(counts, m: int) -> np.ndarray:
    """Counts after adding ``m`` rows so as to minimise the entropy.

    All rows go to the largest cluster (ties: lowest index).
    """
    out = np.asarray(counts, dtype=int).copy()
    out[np.argmax(out)] += int(m)
    return out


def mirror_counts(counts, m: int) -> np.ndarray:
    """Counts after adding ``m`` rows in the reference's own proportions.

    Largest-remainder rounding (ties: lowest index). This is the
    granularity-aware "no change in diversity" batch.
    """
    counts = np.asarray(counts, dtype=int)
    total = counts.sum()
    if total == 0:
        return best_counts(counts, m)
    share = m * counts / total
    add = np.floor(share).astype(int)
    rest = int(m - add.sum())
    order = np.argsort(-(share - add), kind="stable")
    add[order[:rest]] += 1
    return counts + add


def entropy_verdict(before, batch, threshold: float) -> DiversityResult:
    """Judge a batch from cluster counts.

    Let ``H_new = H(before + batch)`` and, over the batches of the same size
    ``m``, ``H_worst`` (all rows in the reference's largest cluster) and
    ``H_mirror`` (a batch in the reference's own cluster proportions, rounded
    to whole rows: "more of the same"). The batch's score is

    ``gain = (H_new − H_worst) / (H_mirror − H_worst)``

    (0 for the least diverse batch, 1 for "more of the same", above 1 for a
    batch that spreads into the reference's small or empty clusters), and the
    batch is accepted iff ``gain ≥ threshold`` (regime ``"keep"``): it keeps
    at least that share of the diversity a batch like the reference would
    bring. When ``H_mirror = H_worst`` (e.g. every reference row in one
    cluster, or one row joining an empty reference) no batch can be less
    diverse than "more of the same" — regime ``"uninformative"``: accepted.
    The best batch (water-filling) always passes, for any threshold in
    ``[0, 1]``.

    Parameters
    ----------
    before, batch : array-like of int, shape (k,)
        Cluster counts of the reference rows and of the batch rows.
    threshold : float in [0, 1]

    Returns
    -------
    result : DiversityResult

    Examples
    --------
    >>> from skteam.qc.diversity import entropy_verdict
    >>> entropy_verdict([10, 10, 2], [0, 0, 10], 0.3).accepted  # fills the gap
    True
    >>> entropy_verdict([10, 10, 2], [4, 5, 1], 0.3).accepted  # more of the same
    True
    >>> entropy_verdict([10, 10, 2], [10, 0, 0], 0.3).accepted  # piles on
    False
    """
    before = np.asarray(before, dtype=int)
    batch = np.asarray(batch, dtype=int)
    m = int(batch.sum())
    h_old = cluster_entropy(before)
    h_new = cluster_entropy(before + batch)
    h_best = cluster_entropy(best_counts(before, m))
    h_worst = cluster_entropy(worst_counts(before, m))
    h_mirror = cluster_entropy(mirror_counts(before, m))

    def result(gain, accepted, verdict, required, regime):
        return DiversityResult(h_old, h_new, float(gain), bool(accepted), verdict,
                               float(required), regime, h_best, h_worst, before, batch,
                               h_mirror)

    if m == 0:
        return result(np.nan, False, "rejected: empty batch", np.nan, "empty")
    span = h_mirror - h_worst
    if span <= _TOL:
        return result(np.nan, True, "accepted (uninformative: no batch of this size "
                      "is less diverse than more of the same)", threshold,
                      "uninformative")
    gain = (h_new - h_worst) / span
    ok = gain >= threshold - 1e-9
    word = "accepted" if ok else "rejected"
    return result(gain, ok, f"{word}: keeps {gain:.0%} of the diversity of a batch "
                  f"like the reference (needs {threshold:.0%})", threshold, "keep")


def duplicate_verdict(n_rows: int, n_distinct: int, before) -> DiversityResult | None:
    """Reject a batch made mostly of one row repeated; None when it is not.

    A batch with fewer than ``MIN_DISTINCT_SHARE`` of its rows distinct
    (after encoding) brings no diversity, whatever clusters its copies land
    in. ``before`` are the reference's cluster counts, kept in the result.
    """
    if n_rows < 2 or n_distinct >= MIN_DISTINCT_SHARE * n_rows:
        return None
    h_old = cluster_entropy(before)
    return DiversityResult(h_old, np.nan, n_distinct / n_rows, False,
                           f"rejected: {n_distinct} distinct of {n_rows} rows",
                           MIN_DISTINCT_SHARE, "duplicates",
                           counts_before=np.asarray(before, dtype=int))


class DiversityCheck:
    """Cluster-entropy diversity check (paper §2.2, "Diversity inspection").

    Parameters
    ----------
    threshold : float in [0, 1], default=0.3
        Share of the cluster-label diversity of a batch like the reference
        that a batch must keep (the paper's 30%, read at skteam's batch
        sizes). See :func:`entropy_verdict`.
    random_state : int, RandomState instance or None, default=None
        Seeds KMeans and the MLP.

    Attributes
    ----------
    n_clusters_ : int or None
        Chosen ``k``; None when the stage is skipped.
    silhouette_ : float
        Mean silhouette score of the chosen clustering.
    silhouettes_ : dict
        ``k`` -> mean silhouette score, for every candidate tried.
    labels_ : ndarray of int
        Cluster of each row of ``D_ori`` (KMeans).
    classifier_ : MLPClassifier
        Row -> cluster.
    classifier_accuracy_ : float
        Share of ``D_ori`` rows the MLP puts in their KMeans cluster.
    skipped_ : str or None
        Why the stage is skipped (too few distinct rows), else None.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skteam import Schema
    >>> from skteam.qc import DiversityCheck
    >>> rng = np.random.default_rng(0)
    >>> centres = np.repeat([[0, 0], [6, 0], [0, 6]], [20, 20, 4], axis=0)
    >>> X = pd.DataFrame(centres + rng.normal(size=(44, 2)), columns=["a", "b"])
    >>> check = DiversityCheck(random_state=0).fit(X, Schema.infer(X))
    >>> check.n_clusters_
    3
    >>> near = [0, 6] + rng.normal(size=(6, 2))  # rows of the small cluster
    >>> check.evaluate(pd.DataFrame(near, columns=["a", "b"])).accepted
    True
    >>> copies = pd.DataFrame([[0, 6]] * 6, columns=["a", "b"])  # one row, 6 times
    >>> check.evaluate(copies).verdict
    'rejected: 1 distinct of 6 rows'
    """

    def __init__(self, threshold=0.3, random_state=None):
        self.threshold = threshold
        self.random_state = random_state

    def fit(self, X_ori, schema, y=None) -> "DiversityCheck":
        """Cluster ``D_ori`` and train the cluster classifier.

        Parameters
        ----------
        X_ori : DataFrame or array-like
            The original rows.
        schema : Schema
            Column kinds and categories (for the encoding).
        y : array-like, default=None
            Labels of ``X_ori``; lets :meth:`evaluate` compare within one
            class (``target=``).

        Returns
        -------
        self
        """
        if not 0 <= self.threshold <= 1:
            raise ValueError(
                f"threshold must be in [0, 1] (a share of the diversity a batch "
                f"must keep); got {self.threshold!r}. The paper uses 0.3."
            )
        X = as_frame(X_ori, schema, what="X_ori")
        self._schema = schema
        seed = resolve_seed(self.random_state)
        self.encoder_ = make_encoder(schema).fit(X)
        Z = self.encoder_.transform(X)
        self.y_ = None if y is None else np.asarray(y)
        n_rows = len(Z)
        n_distinct = len(np.unique(np.round(Z, 9), axis=0)) if n_rows else 0
        ks = [k for k in K_RANGE if k <= n_distinct and k < n_rows]
        self.skipped_ = None
        self.n_clusters_ = None
        self.silhouettes_ = {}
        if not ks:
            self.skipped_ = (f"skipped: too few rows ({n_distinct} distinct rows in "
                             f"D_ori, {K_RANGE[0]} clusters needed)")
            return self
        best = None
        for k in ks:
            labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(Z)
            if len(np.unique(labels)) < 2:
                continue
            score = float(silhouette_score(Z, labels))
            self.silhouettes_[k] = score
            if best is None or score > best[0] + 1e-12:
                best = (score, k, labels)
        if best is None:
            self.skipped_ = "skipped: too few rows (KMeans found a single cluster)"
            return self
        self.silhouette_, self.n_clusters_, self.labels_ = best
        self.classifier_ = MLPClassifier(hidden_layer_sizes=MLP_HIDDEN, max_iter=2000,
                                         random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.classifier_.fit(Z, self.labels_)
        self.classifier_accuracy_ = float(np.mean(self.classifier_.predict(Z)
                                                  == self.labels_))
        return self

    def predict(self, X) -> np.ndarray:
        """Cluster of each row (MLP).

        Parameters
        ----------
        X : DataFrame or array-like
            Rows with the columns of ``D_ori``.

        Returns
        -------
        labels : ndarray of int, shape (n_rows,)
            The cluster the classifier assigns to each row.
        """
        Z = self.encoder_.transform(as_frame(X, self._schema, what="X_batch"))
        return self.classifier_.predict(Z)

    def reference_counts(self, target=None) -> np.ndarray:
        """Cluster counts of ``D_ori``, or of its rows of class ``target``.

        Parameters
        ----------
        target : class label, default=None
            Count only the rows of ``D_ori`` of this class (needs ``y`` in
            :meth:`fit`, else all rows are counted). None: all of ``D_ori``.

        Returns
        -------
        counts : ndarray of int, shape (n_clusters_,)
        """
        labels = self.labels_
        if target is not None and self.y_ is not None:
            labels = labels[self.y_ == target]
        return np.bincount(labels, minlength=self.n_clusters_)

    def evaluate(self, X_batch, target=None) -> DiversityResult:
        """Judge a batch by the entropy of ``D_ori ∪ D_t`` against ``D_ori``.

        Parameters
        ----------
        X_batch : DataFrame or array-like
            The batch rows (those still kept by the earlier stages).
        target : class label, default=None
            Compare within the rows of ``D_ori`` of this class (needs ``y``
            in :meth:`fit`); a class absent from ``D_ori`` has an empty
            reference. None: all of ``D_ori``.

        Returns
        -------
        result : DiversityResult
        """
        if self.skipped_:
            return DiversityResult(np.nan, np.nan, np.nan, True, self.skipped_,
                                   regime="skipped")
        before = self.reference_counts(target)
        if len(X_batch) == 0:
            return entropy_verdict(before, np.zeros_like(before), self.threshold)
        Z = self.encoder_.transform(as_frame(X_batch, self._schema, what="X_batch"))
        copies = duplicate_verdict(len(Z), len(np.unique(np.round(Z, 9), axis=0)),
                                   before)
        if copies is not None:
            return copies
        counts = np.bincount(self.classifier_.predict(Z), minlength=self.n_clusters_)
        return entropy_verdict(before, counts, self.threshold)
