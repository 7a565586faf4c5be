"""Role workers: fill each role's columns in topological order (paper Eq. 2)."""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np
import pandas as pd

from ..rowformat import format_row, parse_row, row_grammar, split_lines
from ..schema import Schema
from . import prompts
from ._seeding import derive_rng, derive_seed
from .manager import Plan, Role

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
        # Gower coordinates: numbers divided by their observed range (one scale
        # per column, shared by real and generated rows), categories as codes
        self.scale = {}
        for s in schema.features:
            if s.kind != "categorical":
                x = pd.to_numeric(X[s.name], errors="coerce")
                span = float(x.max() - x.min()) if x.notna().any() else 0.0
                self.scale[s.name] = span if span > 0 else 1.0
        self.coords = {s.name: self._coords(s, X[s.name].tolist())
                       for s in schema.features}

    def _coords(self, spec, values) -> np.ndarray:
        if spec.kind == "categorical":
            codes = {c: i for i, c in enumerate(spec.categories)}
            return np.array([codes.get(v, -1) for v in values], dtype=float)
        x = np.array([np.nan if v is None else v for v in values], dtype=float)
        return x / self.scale[spec.name]

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

    def nearest(self, rng: np.random.Generator, k: int, target_class, names,
                rows) -> np.ndarray:
        """Up to ``k`` distinct rows of a class, nearest to ``rows`` on ``names``.

        The distance is Gower's (mean over ``names`` of the range-scaled
        absolute difference for numbers, of the mismatch for categories;
        a missing value counts as the largest distance). The rows take
        turns: each adds its nearest real row not already picked, until
        ``k`` rows are picked; ties are broken at random, so rows with the
        same values still see different examples.

        Parameters
        ----------
        rng : numpy.random.Generator
            Breaks ties and orders the result.
        k : int
            Number of examples wanted.
        target_class : object or None
            The class the examples come from; ``None`` for every class.
        names : sequence of str
            The columns compared (a role's parent columns).
        rows : sequence of dict
            Column name -> value of each generated row.
        """
        pool = (self.by_class[target_class] if target_class is not None
                else np.arange(len(self.y)))
        if not len(pool) or not len(rows) or not names:
            return self.sample(rng, k, target_class)
        dist = np.zeros((len(rows), len(pool)))
        for name in names:
            spec = self.schema[name]
            real = self.coords[name][pool]
            gen = self._coords(spec, [r[name] for r in rows])
            if spec.kind == "categorical":
                d = (gen[:, None] != real[None, :]).astype(float)
            else:
                d = np.minimum(np.abs(gen[:, None] - real[None, :]), 1.0)
            dist += np.where(np.isnan(d), 1.0, d)
        dist /= len(names)
        # nearest first; a random secondary key breaks ties
        order = np.lexsort((rng.random(dist.shape), dist), axis=1)
        # rank by rank, row by row: every row's nearest first
        ranked = pool[order.T.ravel()]
        _, first = np.unique(ranked, return_index=True)
        picked = ranked[np.sort(first)][:k]
        return rng.permutation(picked)


def bounding_constraints(constraints, specs, known) -> dict:
    """The constraints that bound each numeric column of a role, given known columns.

    A constraint bounds a column of the role when that column is the only
    one of the role it refers to and every other column it refers to is
    known (a parent's, already generated for the row) and it has the form
    :meth:`Constraint.interval <skteam.constraints.Constraint.interval>`
    reads (comparisons joined by ``and``).

    Parameters
    ----------
    constraints : iterable of Constraint
    specs : sequence of FeatureSpec
        The role's columns.
    known : collection of str
        The columns whose values the rows already have.

    Returns
    -------
    binding : dict
        Column name -> list of the constraints bounding it (columns without
        any are left out).
    """
    own = {s.name for s in specs}
    known = set(known)
    step = {s.name: _step(s) for s in specs if s.kind != "categorical"}
    out: dict = {}
    for c in constraints:
        mine = c.columns & own
        if len(mine) != 1 or not c.columns - mine <= known:
            continue
        (name,) = mine
        empty = pd.DataFrame({f: [] for f in c.columns - mine}, dtype=float)
        if name in step and c.interval(name, empty, step[name]) is not None:
            out.setdefault(name, []).append(c)
    return out


def plan_for_constraints(plan: Plan, constraints, schema: Schema) -> Plan:
    """Reorder a generated plan so that declared constraints bind a worker.

    A constraint bounds a worker's column only when the plan writes its
    other columns earlier (:func:`bounding_constraints`). For each
    constraint that does not, the candidates are its numeric columns from
    last to first in generation order; for the first candidate that works, a
    candidate sharing its role with another column of the constraint moves
    to a new role right after it (which inherits the role's outgoing
    edges), and edges are added from the roles of the other columns to the
    candidate's role; a candidate whose edges would close a cycle is
    skipped. Each change is
    recorded in ``Plan.repairs``. Used for the task manager's and the
    fallback plans, never for a plan the user passes.

    Parameters
    ----------
    plan : Plan
    constraints : iterable of Constraint
    schema : Schema

    Returns
    -------
    plan : Plan
        ``plan`` itself when nothing changes.
    """
    for c in constraints:
        order = [f for level in plan.levels() for n in level
                 for f in plan.role(n).features]
        cols = [f for f in order if f in c.columns]
        if len(cols) < 2 or plan_bindings(plan, [c], schema):
            continue
        for cand in reversed(cols):
            new = _bring_before(plan, cand, set(cols) - {cand})
            if new is not None and plan_bindings(new, [c], schema):
                moved = new.role(_owner(new, cand)).name
                plan = replace(new, source=_repaired(plan.source), repairs=(
                    *plan.repairs,
                    f"put {cand!r} in role {moved!r} after the roles of "
                    f"{sorted(set(cols) - {cand})} so that its worker keeps to "
                    f"{c.text!r}",
                ))
                break
    return plan


def _owner(plan, feature):
    return next(r.name for r in plan.roles if feature in r.features)


def _repaired(source):
    return "manager (repaired)" if source == "manager" else source


def plan_bindings(plan: Plan, constraints, schema: Schema) -> list:
    """The constraints that bound some worker's column under ``plan``.

    :func:`bounding_constraints` for each role, given the features of the
    roles upstream of it; each constraint listed once, in the given order.
    """
    bound = {id(c) for role in plan.roles for cs in bounding_constraints(
        constraints, [schema[f] for f in role.features],
        plan.upstream_features(role.name)).values() for c in cs}
    return [c for c in constraints if id(c) in bound]


def _bring_before(plan, cand, others):
    """``plan`` with the roles of ``others`` upstream of ``cand``'s role, or None."""
    home = plan.role(_owner(plan, cand))
    roles, edges = list(plan.roles), list(plan.edges)
    target = home.name
    if others & set(home.features):
        taken = {r.name for r in roles}
        target = f"{home.name} (constrained)"
        while target in taken:
            target += " 2"
        rest = tuple(f for f in home.features if f != cand)
        i = roles.index(home)
        roles[i:i + 1] = [Role(home.name, rest), Role(target, (cand,))]
        edges = edges + [(home.name, target)] + [
            (target, b) for a, b in plan.edges if a == home.name]
    for parent in dict.fromkeys(_owner(plan, f) for f in others):
        if parent != target and (parent, target) not in edges:
            edges.append((parent, target))
    out = Plan(tuple(roles), tuple(edges), source=plan.source, repairs=plan.repairs)
    try:
        order = [n for level in out.levels() for n in level]
    except ValueError:  # an added edge closed a cycle
        return None
    # roles listed in generation order
    return replace(out, roles=tuple(out.role(n) for n in order))


def _step(spec) -> float:
    return 1.0 if spec.integer else 10.0 ** -int(spec.decimals)


def cell_bounds(binding: dict, specs, rows) -> tuple[list, int]:
    """Per-row ranges of a role's columns under the constraints that bound them.

    Parameters
    ----------
    binding : dict
        Column name -> constraints, from :func:`bounding_constraints`.
    specs : sequence of FeatureSpec
        The role's columns.
    rows : sequence of dict
        Column name -> value of each row (at least the known columns).

    Returns
    -------
    bounds : list of dict
        One dict per row: column name -> ``(low, high)``, inside the
        column's own range, for the columns the constraints narrow on that
        row. A row whose known values leave no legal value keeps the
        column's own range (the sanity stage rejects it).
    conflicts : int
        Number of such rows and columns.
    """
    out = [dict() for _ in rows]
    conflicts = 0
    if not binding or not rows:
        return out, conflicts
    for spec in specs:
        if spec.name not in binding:
            continue
        step = _step(spec)
        low = np.full(len(rows), float(spec.low))
        high = np.full(len(rows), float(spec.high))
        for c in binding[spec.name]:
            others = sorted(c.columns - {spec.name})
            frame = pd.DataFrame({f: [np.nan if r.get(f) is None else r[f]
                                      for r in rows] for f in others},
                                 index=range(len(rows)))
            lo, hi = c.interval(spec.name, frame, step)
            low, high = np.fmax(low, lo), np.fmin(high, hi)
        for i, (lo, hi) in enumerate(zip(low, high)):
            if lo > hi:
                conflicts += 1
            elif lo > spec.low or hi < spec.high:
                d = spec.decimals
                out[i][spec.name] = ((int(lo), int(hi)) if spec.integer
                                     else (round(lo, d), round(hi, d)))
    return out, conflicts


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
    constraints=(),
    usage=None,
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

    ``constraints`` (parsed :class:`~skteam.constraints.Constraint` objects)
    narrow the grammar's range of a cell row by row where the parent values
    decide it (:func:`bounding_constraints`): with juvenile felonies known,
    ``priors_count >= juv_fel_count`` sets the least ``priors_count`` each
    row may take. Constraints between columns of one role are left to the
    sanity stage.

    A group whose answer cannot be parsed (only possible when the token
    budget runs out) is dropped whole.

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
    conflicts = 0
    for level in plan.levels():
        jobs = []
        for g, (target, key) in enumerate(zip(targets, keys)):
            rows = [g * k + j for j in range(k)]
            if failed[rows].any():
                continue
            for role_name in level:
                role = plan.role(role_name)
                specs = [schema[f] for f in role.features]
                parent_names = plan.upstream_features(role_name)
                parent_specs = [schema[f] for f in parent_names]
                rng = derive_rng(*key, role_index[role_name], 1)
                if parent_names:  # real rows whose parent values are closest
                    idx = pool.nearest(rng, n_examples, target, parent_names,
                                       [values[r] for r in rows])
                else:
                    idx = pool.sample(rng, n_examples, target)
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
                jobs.append((rows, specs, prefixes,
                             backend.chat_prompt(prompts.WORKER_SYSTEM, user),
                             row_grammar(specs, prefixes, bounds),
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
    return out, int(failed.sum()), conflicts
