"""Optional QC stage: per-row curation by learning dynamics (CLLM).

Seedat et al., "Curated LLM: Synergy of LLMs and Data Curation for tabular
augmentation in low-data regimes" (ICML 2024, arXiv 2312.12112;
``seedatnabeel/CLLM``, ``src/cllm/curation.py``): a gradient-boosting
classifier is fitted on the real rows ``D_ori``; every boosting stage is a
checkpoint of its learning. For each generated row with label ``y``,
``p_e = p_e(y | x)`` at checkpoint ``e``;

* confidence ``= mean_e p_e``,
* aleatoric uncertainty ``= mean_e p_e (1 − p_e)``.

A row is kept when its confidence is at least ``1 − confidence_threshold``
and its aleatoric uncertainty at most ``aleatoric_threshold`` (CLLM's "easy"
group, both thresholds 0.2 by default): the real data's learner agrees with
the generated label, and steadily. Unlike the cost duel and the diversity
check, the stage judges rows, not batches: a batch keeps its easy rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier

from ..utils import resolve_seed
from ._encoding import make_encoder

#: Boosting stages of the curation model (CLLM's default).
N_ESTIMATORS = 100


@dataclass
class CurationResult:
    """Learning-dynamics scores of one batch.

    Attributes
    ----------
    keep : ndarray of bool, shape (n_batch,)
        Rows in CLLM's "easy" group.
    confidence, aleatoric : ndarray of float, shape (n_batch,)
        Mean of ``p_e(y | x)`` and of ``p_e (1 − p_e)`` over the checkpoints.
    """

    keep: np.ndarray
    confidence: np.ndarray
    aleatoric: np.ndarray


class LearningDynamics:
    """CLLM's curation: keep generated rows a real-data learner finds easy.

    Parameters
    ----------
    confidence_threshold : float, default=0.2
        Keep rows with confidence ``≥ 1 − confidence_threshold``.
    aleatoric_threshold : float, default=0.2
        Keep rows with aleatoric uncertainty ``≤ aleatoric_threshold``.
    n_estimators : int, default=100
        Boosting stages (checkpoints).
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    model_ : GradientBoostingClassifier
        Fitted on the encoded ``D_ori``.
    classes_ : ndarray
        Labels of ``D_ori``; a generated row with another label gets
        ``p_e = 0`` (dropped).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skteam.schema import Schema
    >>> from skteam.qc.curation import LearningDynamics
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=60)}); y = (X["a"] > 0).astype(int)
    >>> ld = LearningDynamics(random_state=0).fit(X, y, Schema.infer(X, y))
    >>> ld.evaluate(pd.DataFrame({"a": [2.0, -2.0]}), np.array([1, 1])).keep
    array([ True, False])
    """

    def __init__(self, confidence_threshold=0.2, aleatoric_threshold=0.2, *,
                 n_estimators=N_ESTIMATORS, random_state=None):
        self.confidence_threshold = confidence_threshold
        self.aleatoric_threshold = aleatoric_threshold
        self.n_estimators = n_estimators
        self.random_state = random_state

    def fit(self, X, y, schema):
        """Fit the encoder and the boosted model on ``D_ori``.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_features)
            ``D_ori`` in the schema's column order.
        y : array-like of shape (n_rows,)
        schema : Schema

        Returns
        -------
        self
        """
        y = np.asarray(y)
        self.encoder_ = make_encoder(schema).fit(X)
        self.classes_ = np.unique(y)
        self.model_ = None
        if len(self.classes_) > 1:
            self.model_ = GradientBoostingClassifier(
                n_estimators=self.n_estimators,
                random_state=resolve_seed(self.random_state)).fit(
                    self.encoder_.transform(X), y)
        return self

    def scores(self, X, y):
        """Confidence and aleatoric uncertainty of each row of ``(X, y)``.

        Parameters
        ----------
        X : DataFrame of shape (n_batch, n_features)
        y : array-like of shape (n_batch,)

        Returns
        -------
        confidence, aleatoric : ndarray of float, shape (n_batch,)
        """
        y = np.asarray(y)
        n = len(y)
        if n == 0:
            return np.zeros(0), np.zeros(0)
        if self.model_ is None:  # one class in D_ori: its learner is certain
            p = np.isin(y, self.classes_).astype(float)[None, :]
        else:
            known = np.isin(y, self.model_.classes_)
            col = np.searchsorted(self.model_.classes_, y)
            col = np.where(known, np.minimum(col, len(self.model_.classes_) - 1), 0)
            p = np.array([np.where(known, proba[np.arange(n), col], 0.0)
                          for proba in self.model_.staged_predict_proba(
                              self.encoder_.transform(X))])
        return p.mean(axis=0), (p * (1.0 - p)).mean(axis=0)

    def evaluate(self, X, y) -> CurationResult:
        """Which rows of a batch are in CLLM's "easy" group.

        Parameters
        ----------
        X : DataFrame of shape (n_batch, n_features)
        y : array-like of shape (n_batch,)

        Returns
        -------
        result : CurationResult
        """
        confidence, aleatoric = self.scores(X, y)
        keep = ((confidence >= 1.0 - self.confidence_threshold)
                & (aleatoric <= self.aleatoric_threshold))
        return CurationResult(keep, confidence, aleatoric)
