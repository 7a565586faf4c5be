"""Fit worker and label prompts into the model's context, before generating.

Every prompt shows a feature list, real example rows and room for the
answer. A worker prompt lists and shows only its role's columns and those of
its nearest ancestor roles (:func:`~skteam.team.workers.shown_upstream`, at
most :data:`~skteam.team.workers.MAX_UPSTREAM_FEATURES` of them), so its
length does not grow with the width of the table: a wide table fits as long
as its roles are small, which skteam's own plans ensure (a plan with a role
of more than ``max_role_features`` features is replaced by the data-aware
plan, :mod:`skteam.team.data_plan`). The label worker sees every column.

Long descriptions, columns with many categories, a user plan's wide role or
a label prompt of a wide table can still make a prompt longer than the
model's context window. The backend would then refuse the call in the middle
of a fit; :func:`fit_examples` finds out before any generation, from the
worst case of every prompt the fit will build: it lowers the number of
example rows per prompt when that is enough (the caller warns), and raises a
``ValueError`` that names the token counts and what to shorten when even one
example row does not fit. Prompts are never truncated. The label worker is
the one prompt a fit can do without: with ``label_optional`` (the sampler's
``labeling="auto"``) a label prompt that does not fit is reported in
:attr:`ContextFit.label_overflow` instead, and the rows keep their class.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

from ..schema import Schema
from . import prompts
from .examples import (
    LABEL_EXAMPLE_CELLS,
    WORKER_EXAMPLE_CELLS,
    ExamplePool,
    examples_for_width,
)
from .labeler import class_texts
from .plan import Plan
from .workers import MAX_UPSTREAM_FEATURES, max_tokens_for, shown_upstream

# Tokens kept free for what per-line token counts can miss (merges across
# line breaks, a template's closing tokens).
MARGIN = 16


@dataclass(frozen=True)
class ContextFit:
    """Example rows per prompt that fit the context.

    Attributes
    ----------
    n_examples : int
        Real rows shown in each role worker prompt.
    n_label_examples : int
        Real rows shown in each label worker prompt.
    context_length : int or None
        The backend's context window (``None``: the backend declares none).
    longest_prompt : int
        An upper bound of the tokens of the longest prompt plus its answer
        budget, with the returned numbers of examples (0 when unchecked).
    label_overflow : str or None
        Why the label worker's prompt does not fit even with one example row,
        when :func:`fit_examples` was told the label worker is optional
        (``n_label_examples`` is then 0: no label worker prompt); else None.
    """

    n_examples: int
    n_label_examples: int
    context_length: int | None
    longest_prompt: int
    label_overflow: str | None = None

    def warn(self, n_examples: int, n_label_examples: int, stacklevel: int = 2):
        """Warn that prompts show fewer examples than asked (the wanted numbers)."""
        label_part = (f" and {self.n_label_examples} per label worker (of "
                      f"{n_label_examples})" if n_label_examples else "")
        warnings.warn(
            f"Prompts show {self.n_examples} real "
            f"{'row' if self.n_examples == 1 else 'rows'} per role worker (of "
            f"n_examples={n_examples}){label_part}: with more, a prompt "
            f"would exceed the model's context of {self.context_length} tokens. "
            "Shorten feature_descriptions or dataset_description, or lower "
            "n_examples.",
            UserWarning, stacklevel=stacklevel + 1,
        )


def _context_length(backend):
    value = getattr(backend, "context_length", None)
    if value is None:
        value = getattr(backend, "max_context", None)
    return int(value) if value else None


class _Counter:
    """``backend.count_tokens`` with a cache (feature lines repeat)."""

    def __init__(self, backend):
        self.count = backend.count_tokens
        self.cache: dict = {}

    def __call__(self, text: str) -> int:
        n = self.cache.get(text)
        if n is None:
            n = self.count(text)
            self.cache[text] = n
        return n


def _top_sum(costs: Sequence[int], k: int) -> int:
    return sum(sorted(costs, reverse=True)[:k])


def _largest_parts(schema: Schema, count) -> str:
    sizes = sorted(((count(prompts.describe_feature(s)), s) for s in schema.features),
                   key=lambda t: -t[0])[:3]
    parts = []
    for n, s in sizes:
        what = [f"{len(s.categories)} categories"] if s.kind == "categorical" else []
        if s.description:
            what.append(f"a {len(s.description)}-character description")
        detail = f": {', '.join(what)}" if what else ""
        parts.append(f"{s.name!r} ({n} tokens{detail})")
    return ", ".join(parts)


def _fit_one(what, base, lines, budget, wanted, context, schema, count, backend):
    """The most examples (<= wanted) that fit; ValueError if not even one.

    Returns the number of examples and a bound of the prompt's tokens. The
    example lines are first bounded by their UTF-8 bytes (a token of the
    byte-level tokenizers skteam drives holds at least one byte) and counted
    exactly only when that bound does not already fit.
    """
    available = min(wanted, len(lines))
    by_bytes = _top_sum([len(line.encode()) + 1 for line in lines], available)
    if base + by_bytes + budget + MARGIN <= context:
        return wanted, base + by_bytes + budget
    costs = [count(line) + 1 for line in lines]
    k = available
    while k > 0 and base + _top_sum(costs, k) + budget + MARGIN > context:
        k -= 1
    if k == available:  # a class with fewer rows than wanted: not a limit
        return wanted, base + _top_sum(costs, k) + budget
    if k == 0 and lines:
        one = max(costs)
        need = base + one + budget + MARGIN
        raise ValueError(
            f"The {what} needs about {need} tokens ({base} for the "
            f"instructions and the feature list, {one} for one example row, "
            f"{budget} for the answer) but the model "
            f"{getattr(backend, 'name', type(backend).__name__)!r} has a context "
            f"of {context} tokens. The longest feature lines: "
            f"{_largest_parts(schema, count)}. Shorten feature_descriptions or "
            "dataset_description, drop or merge columns (a categorical column "
            "lists all its categories), or use a model with a longer context."
            + (" A worker sees its own role's columns: split the role into "
               "smaller ones (plan=None or plan='data' splits a wide table into "
               "roles)." if what.startswith("worker") else
               " The label worker sees every column: labeling='target' (rows "
               "keep the class they were written for) or labeling='classifier' "
               "(the estimator labels them) sends no label worker prompt.")
        )
    return k, base + _top_sum(costs, k) + budget


def fit_examples(backend, schema: Schema, plan: Plan, pool: ExamplePool, targets,
                 *, n_examples: int, n_label_examples: int,
                 rows_per_prompt: int,
                 max_upstream_features: int | None = MAX_UPSTREAM_FEATURES,
                 label_optional: bool = False) -> ContextFit:
    """Numbers of example rows per prompt that keep every prompt in context.

    Parameters
    ----------
    backend : Backend
        Its ``context_length`` (or ``max_context``) and ``count_tokens`` are
        used; a backend without either is not checked.
    schema, plan, pool
        What the fit's prompts are built from.
    targets : sequence
        The classes rows are generated for.
    n_examples, n_label_examples : int
        The wanted numbers of examples in worker and label prompts;
        ``n_label_examples=0``: no label worker prompt is sent
        (``labeling="target"``), so none is checked. A prompt is checked
        with the examples it will show
        (:func:`~skteam.team.examples.examples_for_width`); the fit's counts
        are below these only where the context binds.
    rows_per_prompt : int
        The most rows one prompt answers.
    max_upstream_features : int or None, default=MAX_UPSTREAM_FEATURES
        The most columns of ancestor roles a worker prompt shows
        (:func:`~skteam.team.workers.shown_upstream`), as the workers are
        given it.
    label_optional : bool, default=False
        Whether the fit can go on without a label worker (``labeling="auto"``
        resolved to the worker): a label prompt that does not fit then gives
        ``n_label_examples=0`` and the reason in ``label_overflow`` instead of
        the ``ValueError``.

    Returns
    -------
    fit : ContextFit

    Raises
    ------
    ValueError
        When a prompt does not fit even with one example row (the label
        worker's: unless ``label_optional``); the message gives the token
        counts and the longest feature lines.
    """
    context = _context_length(backend)
    if context is None or not hasattr(backend, "count_tokens"):
        return ContextFit(n_examples, n_label_examples, context, 0)
    count = _Counter(backend)
    arrow = count(prompts.ARROW)
    mark = count(prompts.LINE_MARK)
    k_work, longest = n_examples, 0
    for role in plan.roles:
        specs = [schema[f] for f in role.features]
        parents = shown_upstream(plan, role.name, max_upstream_features)
        parent_specs = [schema[f] for f in parents]
        answer = max_tokens_for(specs, count) + mark
        if parent_specs:
            answer += max_tokens_for(parent_specs, count) + arrow
        budget = rows_per_prompt * answer
        for target in targets:
            user = prompts.worker_user(schema, role.name, specs, parent_specs, target,
                                       [], rows_per_prompt)
            base = count(backend.chat_prompt(prompts.WORKER_SYSTEM, user))
            rows = pool.by_class[target]
            lines = [prompts.worker_line(pool.line(parents, j),
                                         pool.line(role.features, j)) for j in rows]
            label = target.item() if hasattr(target, "item") else target
            # the examples the prompt shows: at most the width bound
            wanted = examples_for_width(k_work, len(specs) + len(parent_specs),
                                        WORKER_EXAMPLE_CELLS)
            k, total = _fit_one(f"worker prompt of role {role.name!r} for class "
                                f"{label!r}", base, lines, budget, wanted, context,
                                schema, count, backend)
            if k < wanted:  # the context binds, not the width
                k_work = k
            longest = max(longest, total)
    if n_label_examples == 0:
        return ContextFit(k_work, 0, context, longest)
    # label worker: full rows, examples balanced over the classes
    options = class_texts(schema)
    base = count(backend.chat_prompt(prompts.LABELER_SYSTEM,
                                     prompts.labeler_user(schema, [])))
    names = schema.names
    lines = [pool.line(names, j) + prompts.ARROW + prompts._one_line(pool.y[j])
             for j in range(len(pool.y))]
    row_tokens = max_tokens_for(list(schema.features), count)
    budget = rows_per_prompt * (row_tokens + arrow + max(count(o) for o in options) + 2)
    wanted = examples_for_width(n_label_examples, len(names), LABEL_EXAMPLE_CELLS)
    try:
        k_label, total = _fit_one("label worker prompt", base, lines, budget,
                                  wanted, context, schema, count, backend)
    except ValueError as exc:
        if not label_optional:
            raise
        return ContextFit(k_work, 0, context, longest, label_overflow=str(exc))
    if k_label >= wanted:  # the width bound, not the context, limits the examples
        k_label = n_label_examples
    longest = max(longest, total)
    return ContextFit(k_work, k_label, context, longest)
