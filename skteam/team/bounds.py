"""Declared constraints as per-row ranges of the cells a worker writes.

Workers run in the plan's order, so when a worker writes the last column
of a constraint the parents' values of each row are known: a comparison
linear in that column becomes a closed range on the column's grid
(:meth:`Constraint.interval <skteam.constraints.Constraint.interval>`),
which the row grammar enforces.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..schema import Schema

if TYPE_CHECKING:  # the plan module imports this one
    from .plan import Plan

logger = logging.getLogger("skteam")


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
    step = {s.name: s.step for s in specs if s.kind != "categorical"}
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


def plan_bindings(plan: Plan, constraints, schema: Schema) -> list:
    """The constraints that bound some worker's column under ``plan``.

    :func:`bounding_constraints` for each role, given the features of the
    roles upstream of it; each constraint listed once, in the given order.
    """
    bound = {id(c) for role in plan.roles for cs in bounding_constraints(
        constraints, [schema[f] for f in role.features],
        plan.upstream_features(role.name)).values() for c in cs}
    return [c for c in constraints if id(c) in bound]


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
        step = spec.step
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
                out[i][spec.name] = _written_range(spec, lo, hi)
    return out, conflicts


def _written_range(spec, low, high) -> tuple:
    """``(low, high)`` as the column writes numbers: ints, or its decimals."""
    if spec.integer:
        return int(low), int(high)
    return round(low, spec.decimals), round(high, spec.decimals)


def sign_bounds(specs, negative) -> list:
    """Per-row ranges that give each signed column the sign of the row's anchor.

    Small models drop minus signs: at temperature 0.8 the bundled model
    wrote 0–30 % negative values where 40–65 % of the real values were
    (``benchmarks/sign_bias.py``). A row anchored on a real row of its
    class takes that row's sign in every signed column, so the signs of
    the generated rows follow the real rows' (jointly, as one row's signs);
    the model still writes the magnitudes.

    Parameters
    ----------
    specs : sequence of FeatureSpec
        The role's columns.
    negative : sequence of dict
        One dict per row: signed column -> whether the anchor's value is
        negative (:meth:`ExamplePool.negative
        <skteam.team.examples.ExamplePool.negative>`).

    Returns
    -------
    bounds : list of dict
        One dict per row: column name -> ``(low, -step)`` for a negative
        anchor, ``(0, high)`` otherwise; only for numeric columns of
        ``specs`` whose own range holds both signs.
    """
    signed = [s for s in specs if s.kind != "categorical"
              and s.low is not None and s.high is not None and s.low < 0 < s.high]
    out = []
    for row in negative:
        bounds = {}
        for s in signed:
            if s.name in row:
                low, high = (s.low, -s.step) if row[s.name] else (0, s.high)
                bounds[s.name] = _written_range(s, low, high)
        out.append(bounds)
    return out


def band_bounds(specs, centres, width: float) -> list:
    """Per-row ranges that hold each numeric cell near the row's anchor.

    A small model drifts: on some training sets of the utility suite the
    bundled model put a column that separates the classes 1-1.5 standard
    deviations from its class's real rows (``benchmarks/README.md``,
    *Anchor bands*). A row anchored on a real row of its class may write
    each numeric cell within ``width`` of the class's standard deviations
    of the anchor's value; the model still chooses where in that band.

    Parameters
    ----------
    specs : sequence of FeatureSpec
        The role's columns (categorical ones are left free).
    centres : sequence of dict
        One dict per row: numeric column -> ``(anchor value, spread)``
        (:meth:`ExamplePool.centre <skteam.team.examples.ExamplePool.centre>`).
    width : float
        Half-width of the band in spreads (``anchor_band``).

    Returns
    -------
    bounds : list of dict
        One dict per row: column name -> ``(low, high)``: the band inside
        the column's own range, rounded inwards to the column's grid but
        never excluding the anchor's value; columns the band does not
        narrow are left out.
    """
    numeric = [s for s in specs if s.kind != "categorical"
               and s.low is not None and s.high is not None]
    out = []
    for centre in centres:
        bounds = {}
        for s in numeric:
            if s.name not in centre:
                continue
            value, spread = centre[s.name]
            step = s.step
            value = min(max(round(value / step) * step, s.low), s.high)
            half = width * spread
            # inwards to the grid (a small tolerance for float division)
            low = max(s.low, math.ceil((value - half) / step - 1e-9) * step)
            high = min(s.high, math.floor((value + half) / step + 1e-9) * step)
            low, high = min(low, value), max(high, value)
            if low > s.low or high < s.high:
                bounds[s.name] = _written_range(s, low, high)
        out.append(bounds)
    return out


def intersect_bounds(first: list, second: list) -> list:
    """Per-row ranges of both lists, ``first``'s kept where the two exclude each other.

    Parameters
    ----------
    first, second : list of dict
        One dict per row: column name -> ``(low, high)``, as
        :func:`cell_bounds` and :func:`sign_bounds` return.

    Returns
    -------
    bounds : list of dict
        New dicts: a column bounded in both takes the intersection of its
        ranges, or ``first``'s range when they do not meet.
    """
    out = []
    for a, b in zip(first, second):
        merged = dict(b)
        for name, (lo, hi) in a.items():
            if name in b:
                lo2, hi2 = max(lo, b[name][0]), min(hi, b[name][1])
                merged[name] = (lo2, hi2) if lo2 <= hi2 else (lo, hi)
            else:
                merged[name] = (lo, hi)
        out.append(merged)
    return out


def binding_texts(plan: Plan, constraints, schema: Schema) -> list:
    """The sorted texts of the constraints that bound some worker under ``plan``."""
    return sorted({c.text for c in plan_bindings(plan, list(constraints), schema)})


def log_bindings(plan: Plan, constraints, schema: Schema) -> None:
    """Log which declared constraints bind a worker and which only sanity checks."""
    binding = binding_texts(plan, constraints, schema)
    if binding:
        logger.info("Constraints that bound the workers' grammars: %s.",
                    "; ".join(binding))
    sanity_only = [c.text for c in constraints if c.text not in binding]
    if sanity_only:
        logger.info("Constraints that no worker's grammar holds under this "
                    "plan (joined by 'or', between columns of one role, or "
                    "ending in a categorical column): %s; only the sanity "
                    "stage checks them.", "; ".join(sanity_only))
