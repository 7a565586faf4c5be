"""Role workers: fill each role's columns in topological order (paper Eq. 2)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..rowformat import format_row, parse_row, row_grammar, split_lines
from ..schema import Schema
from . import prompts
from ._seeding import derive_rng, derive_seed
from .manager import Plan

MAX_PROMPTS_PER_CALL = 64


def max_tokens_for(specs, tokenizer_count) -> int:
    """Upper bound of the tokens one line of ``specs`` can take."""
    total = 2
    for s in specs:
        if s.kind == "categorical":
            total += max(tokenizer_count(str(c)) for c in s.categories) + 3
        else:
            digits = len(str(int(max(abs(s.low), abs(s.high))))) + s.decimals
            total += digits + 3
    return total


class ExamplePool:
    """Real rows, pre-formatted per feature, grouped by class.

    Parameters
    ----------
    schema : Schema
    X : pandas.DataFrame
        The real rows (``D_ori``), columns in schema order.
    y : ndarray
        Their labels.
    """

    def __init__(self, schema: Schema, X, y):
        self.schema = schema
        self.cells = {
            s.name: [format_row([s], [v]) for v in X[s.name].tolist()]
            for s in schema.features
        }
        self.y = np.asarray(y)
        self.by_class = {c: np.flatnonzero(self.y == c) for c in schema.classes}

    def line(self, names: Sequence[str], i: int) -> str:
        return ",".join(self.cells[n][i] for n in names)

    def sample(self, rng: np.random.Generator, k: int, target_class=None) -> np.ndarray:
        """Up to ``k`` distinct row indices, of one class or balanced over classes."""
        if target_class is not None:
            pool = self.by_class[target_class]
            return rng.permutation(pool)[:k]
        per = max(1, -(-k // len(self.by_class)))
        picked = [rng.permutation(p)[:per] for p in self.by_class.values() if len(p)]
        out = np.concatenate(picked)
        return rng.permutation(out)[:k]


def check_answers(backend, prompts_sent, texts) -> None:
    """RuntimeError unless a backend answered every prompt with a text."""
    if (not isinstance(texts, (list, tuple)) or len(texts) != len(prompts_sent)
            or not all(isinstance(t, str) for t in texts)):
        got = len(texts) if isinstance(texts, (list, tuple)) else type(texts).__name__
        raise RuntimeError(
            f"The backend {getattr(backend, 'name', type(backend).__name__)!r} "
            f"answered {len(prompts_sent)} prompts with {got} texts; "
            "Backend.generate must return one string per prompt."
        )


def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def generate_features(
    backend,
    schema: Schema,
    plan: Plan,
    pool: ExamplePool,
    targets: Sequence,
    keys: Sequence[tuple],
    *,
    rows_per_prompt: int = 5,
    n_examples: int = 8,
    temperature: float = 0.8,
    usage=None,
):
    """Generate the feature values of ``len(targets) * rows_per_prompt`` rows.

    Rows come in groups, one group per ``(target, key)``. For every role, a
    group is one prompt: real rows of the group's class as examples (drawn
    by a generator keyed on the group and role, so different groups see
    different examples), then one answer line per row. A line starts with
    the row's parent values, forced by the grammar, followed by the role's
    cells. Roles run level by level; every prompt of a level shares one
    batched call.

    A group whose answer cannot be parsed (only possible when the token
    budget runs out) is dropped whole.

    Returns
    -------
    values : list of dict or None
        Feature name -> value for each row (group-major order); ``None`` for
        a row of a dropped group.
    failures : int
        Number of rows lost to unparseable answers.
    """
    k = rows_per_prompt
    n = len(targets) * k
    values: list = [dict() for _ in range(n)]
    failed = np.zeros(n, dtype=bool)
    role_index = {r.name: i for i, r in enumerate(plan.roles)}
    count = backend.count_tokens
    for level in plan.levels():
        jobs = []
        for g, (target, key) in enumerate(zip(targets, keys)):
            rows = [g * k + j for j in range(k)]
            if failed[rows].any():
                continue
            for role_name in level:
                role = plan.role(role_name)
                specs = [schema[f] for f in role.features]
                parent_names = [f for r in plan.ancestors(role_name)
                                for f in plan.role(r).features]
                parent_specs = [schema[f] for f in parent_names]
                rng = derive_rng(*key, role_index[role_name], 1)
                idx = pool.sample(rng, n_examples, target)
                examples = [(pool.line(parent_names, j), pool.line(role.features, j))
                            for j in idx]
                user = prompts.worker_user(schema, role.name, specs, parent_specs,
                                           target, examples, len(rows))
                prefixes = [prompts.worker_prefill(
                    parent_specs, [values[r][f] for f in parent_names]) for r in rows]
                budget = len(rows) * max_tokens_for(specs, count) + sum(
                    count(p) for p in prefixes)
                jobs.append((rows, specs, prefixes,
                             backend.chat_prompt(prompts.WORKER_SYSTEM, user),
                             row_grammar(specs, prefixes),
                             derive_seed(*key, role_index[role_name], 2), budget))
        for sl in _chunks(len(jobs), MAX_PROMPTS_PER_CALL):
            part = jobs[sl]
            texts = backend.generate(
                [j[3] for j in part], [j[4] for j in part],
                seeds=[j[5] for j in part], max_new_tokens=max(j[6] for j in part),
                temperature=temperature, usage=usage,
            )
            check_answers(backend, part, texts)
            for (rows, specs, prefixes, *_), text in zip(part, texts):
                try:
                    lines = split_lines(text, prefixes)
                except ValueError:
                    failed[rows] = True
                    continue
                try:
                    cells = [parse_row(specs, line) for line in lines]
                except ValueError:
                    failed[rows] = True
                    continue
                for r, row_cells in zip(rows, cells):
                    values[r].update({s.name: v for s, v in zip(specs, row_cells)})
    out = [None if failed[i] else values[i] for i in range(n)]
    return out, int(failed.sum())
