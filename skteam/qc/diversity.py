"""QC stage 3: diversity inspection with cluster-label entropy (paper §2.2).

``D_ori`` is standardised (numeric columns scaled, categorical columns
one-hot), clustered with KMeans with ``k ∈ {3, 4, 5}`` chosen by the mean
silhouette score (Eq. 8), and an MLP learns to map any row to its cluster.
A batch is judged by the entropy of the cluster labels of
``D_ori ∪ D_t`` against that of ``D_ori``.

The paper's "percentage entropy improvement ≥ 30%" cannot be met by a
batch of 10 rows joining hundreds of rows, and is undefined when ``D_ori``
has zero entropy. skteam therefore measures the improvement against what a
batch of the same size could achieve at best (``H_best``, water-filling the
smallest clusters) and, when ``D_ori`` is already about as diverse as such
a batch can make it, only asks the batch to keep the diversity (verdict
``"max-entropy"``). Exact definitions in :func:`entropy_verdict` and
``docs/method.md``.
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
#: The "max-entropy" regime starts when less than this share of the entropy
#: range a batch can reach lies above the current entropy.
MAX_ENTROPY_ROOM = 0.1
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
        In the ``"improve"`` regime, the share of the best achievable
        improvement that the batch realises,
        ``(H_new − H_old) / (H_best − H_old)``, compared with the threshold.
        In the ``"max-entropy"`` regime, the entropy change as a share of the
        achievable range, ``(H_new − H_old) / (H_best − H_worst)``.
    accepted : bool
    verdict : str
        Starts with ``"accepted"``, ``"rejected"`` or ``"skipped"``, and
        names the regime.
    required : float
        What ``gain`` had to reach.
    regime : str
        ``"improve"``, ``"max-entropy"``, ``"uninformative"``, ``"empty"``
        or ``"skipped"``.
    entropy_best, entropy_worst : float
        Highest / lowest ``H_new`` any batch of the same size could give.
    counts_before, counts_batch : ndarray of int
        Cluster counts of the reference rows and of the batch.
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

    Let ``H_old = H(before)``, ``H_new = H(before + batch)`` and, over all
    batches of the same size ``m``, ``H_best`` (water-filling) and
    ``H_worst`` (all rows in the largest cluster). With
    ``room = (H_best − H_old) / (H_best − H_worst)``:

    * ``room ≥ MAX_ENTROPY_ROOM`` — regime ``"improve"``: accept iff
      ``gain = (H_new − H_old) / (H_best − H_old) ≥ threshold``, i.e. the
      batch realises at least ``threshold`` of the best achievable
      improvement (the paper's percentage improvement, measured against what
      is reachable).
    * ``room < MAX_ENTROPY_ROOM`` — regime ``"max-entropy"``: the reference
      is already about as diverse as a batch of size ``m`` can make it, so
      no batch can improve it meaningfully; accept iff ``H_new ≥ H_mirror``,
      the entropy after a batch that copies the reference's own cluster
      proportions (rounded to whole rows), i.e. the batch at least keeps
      the diversity. Some batch always passes (the best one).
    * ``H_best = H_worst`` (e.g. one row joining an empty reference) —
      regime ``"uninformative"``: every batch gives the same entropy;
      accepted.

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
    span = h_best - h_worst

    def result(gain, accepted, verdict, required, regime):
        return DiversityResult(h_old, h_new, float(gain), bool(accepted), verdict,
                               float(required), regime, h_best, h_worst, before, batch)

    if m == 0:
        return result(np.nan, False, "rejected: empty batch", np.nan, "empty")
    if span <= _TOL:
        return result(0.0, True, "accepted (uninformative: every batch of this size "
                      "gives the same entropy)", 0.0, "uninformative")
    room = (h_best - h_old) / span
    if room >= MAX_ENTROPY_ROOM:
        gain = (h_new - h_old) / (h_best - h_old)
        ok = gain >= threshold - 1e-9
        word = "accepted" if ok else "rejected"
        return result(gain, ok, f"{word}: realises {gain:.0%} of the best entropy "
                      f"gain (needs {threshold:.0%})", threshold, "improve")
    h_mirror = cluster_entropy(mirror_counts(before, m))
    gain = (h_new - h_old) / span
    required = (h_mirror - h_old) / span
    ok = h_new >= h_mirror - 1e-9
    word = "accepted" if ok else "rejected"
    how = ("keeps the diversity" if ok else "lowers the diversity below a batch "
           "mirroring the reference")
    return result(gain, ok, f"{word} (max-entropy: the reference is already about as "
                  f"diverse as {m} rows can make it; the batch {how})", required,
                  "max-entropy")


class DiversityCheck:
    """Cluster-entropy diversity check (paper §2.2, "Diversity inspection").

    Parameters
    ----------
    threshold : float in [0, 1], default=0.3
        Share of the best achievable entropy improvement a batch must
        realise (paper: a 30% improvement). See :func:`entropy_verdict`.
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
    >>> batch = pd.DataFrame([[0, 6]] * 6, columns=["a", "b"])  # the small cluster
    >>> check.evaluate(batch).accepted
    True
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
                f"threshold must be in [0, 1] (a share of the best achievable "
                f"entropy gain); got {self.threshold!r}. The paper uses 0.3."
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
        counts = np.bincount(self.predict(X_batch), minlength=self.n_clusters_)
        return entropy_verdict(before, counts, self.threshold)
