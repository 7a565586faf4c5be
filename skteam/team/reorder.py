"""skteam's own plans, reordered so that declared constraints bind a worker.

A constraint narrows a worker's grammar only when the plan writes its other
columns earlier (:mod:`skteam.team.bounds`); :func:`plan_for_constraints`
moves a column or adds an edge where that is possible without a cycle.
"""

from __future__ import annotations

from dataclasses import replace

from ..schema import Schema
from .bounds import plan_bindings
from .plan import Plan, Role, closes_cycle, repaired_source


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
                plan = replace(new, source=repaired_source(plan.source), repairs=(
                    *plan.repairs,
                    f"put {cand!r} in role {moved!r} after the roles of "
                    f"{sorted(set(cols) - {cand})} so that its worker keeps to "
                    f"{c.text!r}",
                ))
                break
    return plan


def _owner(plan, feature):
    return next(r.name for r in plan.roles if feature in r.features)


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
            if closes_cycle(edges, (parent, target)):
                return None
            edges.append((parent, target))
    out = Plan(tuple(roles), tuple(edges), source=plan.source, repairs=plan.repairs)
    order = [n for level in out.levels() for n in level]
    # roles listed in generation order
    return replace(out, roles=tuple(out.role(n) for n in order))
