"""What the features' names mean, as a similarity.

The data-aware plan (:mod:`skteam.team.data_plan`) groups features by their
association in ``D_ori`` and by the words their names and descriptions
share. On a few dozen rows association is mostly noise, and shared words
miss features whose names are related in other words (``kids`` and
``babies``). :func:`meaning_similarity` adds what the model itself reads in
the names: each feature's name is embedded by the backend (the mean of its
last hidden states, :meth:`skteam.llm.hf.HFBackend.embed`), the mean
vector over the table's features is subtracted (what every feature of the
table shares says nothing about grouping), and the similarity of two
features is the cosine of their centred vectors, clipped at 0.

Names only: descriptions already enter the data plan through their shared
words, and their wording follows the source more than the meaning (the R
help pages describe every categorical as "A factor with levels ..."), so
embedding ``"<name>: <description>"`` scored lower on the reference
groupings (``docs/method.md``).

A feature whose name holds no word (no token of three or more letters:
``x12``, ``V3``) has nothing to mean; it gets similarity 0 with every other
feature and groups by association and shared words alone. A backend that
cannot embed (a remote server, a test double) gives ``None``: the plan is
then built from association and shared words as before.
"""

from __future__ import annotations

import re

import numpy as np

from .data_plan import _tokens

__all__ = ["feature_text", "has_words", "meaning_similarity"]

_WORD = re.compile(r"[A-Za-z]{3,}")


def feature_text(spec) -> str:
    """The text embedded for a feature: its name."""
    return str(spec.name)


def has_words(spec) -> bool:
    """Whether a feature's name holds a word of 3 or more letters.

    Words are read as :func:`skteam.team.data_plan.feature_tokens` reads
    them, so ``sleepQuality`` and ``sleep_quality`` both hold words while
    ``x12``, ``V3`` and ``bp`` do not.
    """
    return any(_WORD.search(t) for t in _tokens(spec.name))


def meaning_similarity(backend, schema):
    """Cosine similarity of the features' centred text embeddings.

    Parameters
    ----------
    backend : Backend or None
        Its optional ``embed(texts)`` method is used; without it (or when it
        returns ``None``) there is no similarity to give.
    schema : Schema
        The features, in order.

    Returns
    -------
    similarity : ndarray of shape (n_features, n_features) or None
        In [0, 1], 1 on the diagonal, 0 for every pair with a feature that
        holds no word; ``None`` when the backend cannot embed or fewer than
        two features hold words.
    """
    embed = getattr(backend, "embed", None)
    specs = list(schema.features)
    worded = [i for i, spec in enumerate(specs) if has_words(spec)]
    if embed is None or len(worded) < 2:
        return None
    vectors = embed([feature_text(specs[i]) for i in worded])
    if vectors is None:
        return None
    vectors = np.asarray(vectors, dtype=np.float64)
    vectors = vectors - vectors.mean(axis=0)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 1e-12)
    sim = np.zeros((len(specs), len(specs)))
    sim[np.ix_(worded, worded)] = np.clip(unit @ unit.T, 0.0, 1.0)
    np.fill_diagonal(sim, 1.0)
    return sim
