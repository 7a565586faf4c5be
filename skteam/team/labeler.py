"""Label worker Ψ_{K+1}: labels assembled rows, constrained to the class set."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..rowformat import choice_grammar, format_row, split_lines
from ..schema import Schema
from ..utils import derive_rng, derive_seed
from . import prompts
from ._batching import MAX_PROMPTS_PER_CALL, check_answers, chunks
from .examples import LABEL_EXAMPLE_CELLS, ExamplePool, examples_for_width


def class_texts(schema: Schema) -> list[str]:
    """The text of each class as the label worker writes it."""
    texts = [prompts._one_line(c) for c in schema.classes]
    if len(set(texts)) != len(texts):
        raise ValueError(
            f"Class labels {list(schema.classes)!r} are not distinct as text; "
            "encode y with distinct labels (e.g. LabelEncoder)."
        )
    return texts


def label_rows(
    backend,
    schema: Schema,
    pool: ExamplePool,
    groups: Sequence[Sequence[dict]],
    keys: Sequence[tuple],
    *,
    n_examples: int = 8,
    temperature: float = 0.8,
    example_choice: str = "balanced",
    usage=None,
    shown=None,
):
    """Label rows (dicts of feature values), one prompt per group of rows.

    Every prompt shows real rows with their labels, drawn by a generator
    keyed on the group; its answer repeats each row (forced by the grammar)
    and adds one of the classes.

    Parameters
    ----------
    backend : Backend
        The model that labels.
    schema : Schema
        The features shown and the classes a label is chosen from.
    pool : ExamplePool
        The real rows the examples are drawn from.
    groups : sequence of sequence of dict
        The rows to label, one group per prompt; each row maps every feature
        name to its value. An empty group makes no prompt.
    keys : sequence of tuple
        One key of non-negative ints per group; seeds its examples and its
        generation.
    n_examples : int, default=8
        Real rows shown in each prompt; fewer on a table wider than
        ``LABEL_EXAMPLE_CELLS / n_examples`` features
        (:func:`~skteam.team.examples.examples_for_width`).
    temperature : float, default=0.8
        Sampling temperature.
    example_choice : {"balanced", "nearest", "nearest_per_class"}, \
            default="balanced"
        Which real rows a prompt shows: drawn at random, balanced over the
        classes; the rows nearest to the group's rows on every feature
        (:meth:`ExamplePool.nearest`, any class); or the nearest rows of
        each class, the same number per class.
    usage : Usage, default=None
        A caller's counter that receives the calls' counts too.
    shown : list of set, default=None
        One set per group; receives the positions (in the pool) of the real
        rows its prompt showed.

    Returns
    -------
    labels : list of list
        The classes (original objects) of each group's rows; ``None`` for
        every row of a group whose answer could not be parsed.
    """
    options = class_texts(schema)
    to_class = dict(zip(options, schema.classes))
    names = schema.names
    n_shown = examples_for_width(n_examples, len(names), LABEL_EXAMPLE_CELLS)
    jobs = []
    for g, (rows, key) in enumerate(zip(groups, keys)):
        if not rows:
            continue
        rng = derive_rng(*key, 999, 1)
        idx = _label_examples(pool, rng, n_shown, names, rows, example_choice)
        if shown is not None:  # provenance: the real rows the group saw
            shown[g].update(int(j) for j in idx)
        examples = [(pool.line(names, j), prompts._one_line(pool.y[j])) for j in idx]
        user = prompts.labeler_user(schema, examples)
        prefixes = [format_row(schema.features, [row[n] for n in names]) + prompts.ARROW
                    for row in rows]
        budget = sum(backend.count_tokens(p) for p in prefixes) + len(rows) * (
            max(backend.count_tokens(o) for o in options) + 2)
        jobs.append((backend.chat_prompt(prompts.LABELER_SYSTEM, user),
                     choice_grammar(options, prefixes), derive_seed(*key, 999, 2),
                     budget, prefixes))
    texts = []
    for sl in chunks(len(jobs), MAX_PROMPTS_PER_CALL):
        part = jobs[sl]
        got = backend.generate(
            [j[0] for j in part], [j[1] for j in part], seeds=[j[2] for j in part],
            max_new_tokens=max(j[3] for j in part), temperature=temperature,
            usage=usage)
        check_answers(backend, part, got)
        texts.extend(got)
    out = []
    it = iter(zip(jobs, texts))
    for rows in groups:
        if not rows:
            out.append([])
            continue
        job, text = next(it)
        try:
            out.append([to_class[t] for t in split_lines(text, job[4])])
        except (ValueError, KeyError):  # only when the token budget ran out
            out.append([None] * len(rows))
    return out


def _label_examples(pool, rng, k, names, rows, how):
    if how == "balanced":
        return pool.sample(rng, k)
    if how == "nearest":
        return pool.nearest(rng, k, None, names, rows)
    if how == "nearest_per_class":
        present = [c for c, idx in pool.by_class.items() if len(idx)]
        per = max(1, -(-k // len(present)))
        picked = np.concatenate([pool.nearest(rng, per, c, names, rows)
                                 for c in present])
        return rng.permutation(picked)[:k]
    raise ValueError(f"example_choice={how!r}; use 'balanced', 'nearest' or "
                     "'nearest_per_class'.")


class ClassifierLabeler:
    """Labels generated rows with a classifier fitted on the real rows.

    ``labeling="classifier"``: the workers write rows for a class, and a
    clone of the downstream estimator, fitted once on ``D_ori`` (numeric
    columns standardised, categorical columns one-hot, as the cost duel sees
    them), decides each row's label: the class whose probability is highest
    relative to its share of ``D_ori`` (``argmax_c p(c | x) / π_c``). Plain
    ``argmax p(c | x)`` would put almost every row in the majority class on
    the imbalanced tables the sampler is for. A row it puts in another class
    counts for that class's quota, as with the label worker.

    Parameters
    ----------
    estimator : classifier
        Cloned, never fitted in place.
    schema : Schema
    X : DataFrame of shape (n_rows, n_features)
        ``D_ori`` in the schema's column order.
    y : array-like of shape (n_rows,)

    Attributes
    ----------
    model_ : Pipeline
        The encoder and the fitted clone; None when ``D_ori`` has one class
        (every row then gets that class).
    priors_ : ndarray
        The share of each class (``classes_``) in ``D_ori``.
    """

    name = "classifier"

    def __init__(self, estimator, schema: Schema, X, y):
        from sklearn.base import clone
        from sklearn.pipeline import make_pipeline

        from ..qc._encoding import make_encoder

        y = np.asarray(y)
        self.classes_, counts = np.unique(y, return_counts=True)
        self.priors_ = counts / counts.sum()
        self.model_ = None
        if len(self.classes_) > 1:
            self.model_ = make_pipeline(make_encoder(schema),
                                        clone(estimator)).fit(X, y)

    def __call__(self, X) -> np.ndarray:
        """The label of each row of ``X`` (a frame in the schema's column order)."""
        if self.model_ is None:
            return np.full(len(X), self.classes_[0], dtype=self.classes_.dtype)
        proba = self.model_.predict_proba(X)
        return self.classes_[np.argmax(proba / self.priors_, axis=1)]
