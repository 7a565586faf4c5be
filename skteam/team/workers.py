"""Role workers: fill each role's columns in topological order (paper Eq. 2)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..rowformat import parse_row, row_grammar, split_lines
from ..schema import Schema
from ..utils import derive_rng, derive_seed
from . import prompts
from ._batching import MAX_PROMPTS_PER_CALL, check_answers, chunks
from .bounds import (
    band_bounds,
    bounding_constraints,
    cell_bounds,
    intersect_bounds,
    sign_bounds,
)
from .examples import WORKER_EXAMPLE_CELLS, ExamplePool, examples_for_width
from .plan import Plan

#: The most columns of ancestor roles a worker prompt shows. A worker sees
#: its own role's columns and those of its ancestor roles, nearest roles
#: first, up to this many: with it, a prompt's length is bounded whatever the
#: width of the table or the depth of the plan, so the time per generated row
#: grows linearly with the number of features (benchmarks/README.md, scaling).
MAX_UPSTREAM_FEATURES = 8
#: Residual-aware examples: a real row's weight is multiplied by this each
#: time an earlier prompt of the same call showed it to the same role.
SHOWN_DECAY = 0.5


def shown_upstream(plan: Plan, role_name: str,
                   max_features: int | None = MAX_UPSTREAM_FEATURES) -> list:
    """The columns of ancestor roles that the worker of ``role_name`` sees.

    Every column of every ancestor role (:meth:`Plan.ancestors`) when they
    number at most ``max_features``; else the columns of the nearest
    ancestors: roles ranked by their distance to ``role_name`` in the DAG
    (parents, then grandparents, ...), ties in plan order, columns taken in
    that order until ``max_features`` are taken.

    Parameters
    ----------
    plan : Plan
        The roles and their precedence edges.
    role_name : str
        The role whose worker prompt is built.
    max_features : int or None, default=MAX_UPSTREAM_FEATURES
        The most ancestor columns shown; ``None`` shows them all.

    Returns
    -------
    names : list of str
        Feature names, in plan order (the order the prompt shows them in).
    """
    upstream = plan.upstream_features(role_name)
    if max_features is None or len(upstream) <= max_features:
        return upstream
    # breadth-first over parent edges: the distance of every ancestor
    distance, frontier, d = {}, [role_name], 0
    while frontier:
        d += 1
        nxt = []
        for name in frontier:
            for parent in plan.parents(name):
                if parent not in distance:
                    distance[parent] = d
                    nxt.append(parent)
        frontier = nxt
    position = {r.name: i for i, r in enumerate(plan.roles)}
    ranked = sorted(distance, key=lambda r: (distance[r], position[r]))
    taken = set([f for r in ranked for f in plan.role(r).features][:max_features])
    return [f for f in upstream if f in taken]


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
    constraints=(),
    usage=None,
    shown=None,
    max_upstream_features: int | None = MAX_UPSTREAM_FEATURES,
    root_weights=None,
    anchors=None,
    anchor_signs: bool = True,
    anchor_band: float | None = None,
):
    """Generate the feature values of ``len(targets) * rows_per_prompt`` rows.

    Rows come in groups, one group per ``(target, key)``. For every role, a
    group is one prompt: real rows of the group's class as examples (drawn
    by a generator keyed on the group and role, so different groups see
    different examples; for a role with parents, the real rows nearest to
    the group's rows on the parent columns, ``ExamplePool.nearest``), then
    one answer line per row. A line starts with
    the row's parent values, forced by the grammar, followed by the role's
    cells. Roles run level by level; every prompt of a level shares one
    batched call.

    A worker sees its parents only: its prompt describes, and its example
    rows and answer lines show, the role's own columns and those of its
    ancestor roles (:func:`shown_upstream`: the nearest ones, up to
    ``max_upstream_features`` columns), never the rest of the table.

    ``constraints`` (parsed :class:`~skteam.constraints.Constraint` objects)
    narrow the grammar's range of a cell row by row where the parent values
    decide it (:func:`bounding_constraints`): with juvenile felonies known,
    ``priors_count >= juv_fel_count`` sets the least ``priors_count`` each
    row may take. Constraints between columns of one role are left to the
    sanity stage.

    A group whose answer cannot be parsed (only possible when the token
    budget runs out) is dropped whole.

    Parameters
    ----------
    backend : Backend
        The language model.
    schema : Schema
        Features and classes.
    plan : Plan
        The roles and their order.
    pool : ExamplePool
        The real rows the examples are drawn from.
    targets : sequence
        The class of each group.
    keys : sequence of tuple
        One key of non-negative ints per group; seeds its examples and its
        generation.
    rows_per_prompt : int, default=5
        Rows in each group (answered by one prompt per role).
    n_examples : int, default=8
        Real rows shown in each prompt; fewer where the role's and its shown
        parents' columns are more than ``WORKER_EXAMPLE_CELLS / n_examples``
        (:func:`~skteam.team.examples.examples_for_width`).
    temperature : float, default=0.8
        Sampling temperature.
    constraints : iterable of Constraint, default=()
        Declared constraints that may narrow the grammar (see above).
    usage : Usage, default=None
        A caller's counter that receives the calls' counts too.
    shown : list of set, default=None
        One set per row; receives the positions (in the pool) of the real
        rows shown to that row's role workers.
    max_upstream_features : int or None, default=MAX_UPSTREAM_FEATURES
        The most columns of ancestor roles one prompt shows
        (:func:`shown_upstream`); ``None`` shows every ancestor column.
    root_weights : dict, default=None
        Residual-aware examples: class -> positive weight of each of its real
        rows (``pool.by_class`` order). The examples of a role without
        parents are then drawn with these weights, each halved
        (:data:`SHOWN_DECAY`) every time an earlier group of the call showed
        the row to that role, so the prompts of one call spread over the
        real rows. None: drawn uniformly.
    anchors : sequence of int, default=None
        One real row per row (a position in the pool, e.g. from
        :meth:`ExamplePool.anchors`), which ``anchor_signs`` and
        ``anchor_band`` hold the row to. None: no anchor; the model writes
        the signs.
    anchor_signs : bool, default=True
        With ``anchors``: the grammar gives each of the row's signed columns
        (:attr:`ExamplePool.signed`) its anchor's sign (:func:`sign_bounds`;
        a constraint's range wins where the two do not meet).
    anchor_band : float or None, default=None
        With ``anchors``: each numeric cell of a row is held within this
        many standard deviations (of the column among the class's real
        rows) of its anchor's value (:func:`band_bounds`; a constraint's
        range wins where the two do not meet). None: no band.

    Returns
    -------
    values : list of dict or None
        Feature name -> value for each row (group-major order); ``None`` for
        a row of a dropped group.
    failures : int
        Number of rows lost to unparseable answers.
    conflicts : int
        Cells whose parent values leave no value that satisfies the
        constraints (generated in the column's own range instead).
    """
    k = rows_per_prompt
    n = len(targets) * k
    values: list = [dict() for _ in range(n)]
    failed = np.zeros(n, dtype=bool)
    role_index = {r.name: i for i, r in enumerate(plan.roles)}
    count = backend.count_tokens
    constraints = list(constraints)
    binding = {r.name: bounding_constraints(
        constraints, [schema[f] for f in r.features], plan.upstream_features(r.name))
        for r in plan.roles} if constraints else {}
    parents_of = {r.name: shown_upstream(plan, r.name, max_upstream_features)
                  for r in plan.roles}
    negative = ([pool.negative(i) for i in anchors]
                if anchors is not None and anchor_signs and pool.signed else None)
    centres = ([pool.centre(a, targets[r // k]) for r, a in enumerate(anchors)]
               if anchors is not None and anchor_band is not None else None)
    conflicts = 0
    shown_root: dict = {}  # (class, root role) -> times each real row was shown
    for level in plan.levels():
        jobs = []
        for g, (target, key) in enumerate(zip(targets, keys)):
            rows = [g * k + j for j in range(k)]
            if failed[rows].any():
                continue
            for role_name in level:
                role = plan.role(role_name)
                specs = [schema[f] for f in role.features]
                parent_names = parents_of[role_name]
                parent_specs = [schema[f] for f in parent_names]
                rng = derive_rng(*key, role_index[role_name], 1)
                n_shown = examples_for_width(
                    n_examples, len(specs) + len(parent_specs), WORKER_EXAMPLE_CELLS)
                if parent_names:  # real rows whose parent values are closest
                    idx = pool.nearest(rng, n_shown, target, parent_names,
                                       [values[r] for r in rows])
                elif root_weights is not None and target in root_weights:
                    times = shown_root.setdefault(
                        (target, role_name), np.zeros(len(pool.by_class[target])))
                    weights = root_weights[target] * SHOWN_DECAY ** times
                    idx = pool.sample(rng, n_shown, target, weights=weights)
                    times[np.searchsorted(pool.by_class[target], idx)] += 1
                else:
                    idx = pool.sample(rng, n_shown, target)
                if shown is not None:  # provenance: the real rows each row saw
                    for r in rows:
                        shown[r].update(int(j) for j in idx)
                examples = [(pool.line(parent_names, j), pool.line(role.features, j))
                            for j in idx]
                user = prompts.worker_user(schema, role.name, specs, parent_specs,
                                           target, examples, len(rows))
                prefixes = [prompts.worker_prefill(
                    parent_specs, [values[r][f] for f in parent_names]) for r in rows]
                budget = len(rows) * max_tokens_for(specs, count) + sum(
                    count(p) for p in prefixes)
                bounds, n_conflicts = cell_bounds(
                    binding.get(role_name, {}), specs, [values[r] for r in rows])
                conflicts += n_conflicts
                if centres is not None:
                    bounds = intersect_bounds(bounds, band_bounds(
                        specs, [centres[r] for r in rows], anchor_band))
                if negative is not None:
                    bounds = intersect_bounds(bounds, sign_bounds(
                        specs, [negative[r] for r in rows]))
                jobs.append((rows, specs, prefixes,
                             backend.chat_prompt(prompts.WORKER_SYSTEM, user),
                             row_grammar(specs, prefixes, bounds),
                             derive_seed(*key, role_index[role_name], 2), budget))
        for sl in chunks(len(jobs), MAX_PROMPTS_PER_CALL):
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
    return out, int(failed.sum()), conflicts
