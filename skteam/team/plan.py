"""The plan: roles, their precedence DAG, and how skteam chooses one (paper Eq. 1).

:class:`Plan` and :class:`Role` are the plan's types. A plan comes from the
user (:func:`load_plan`, validated strictly), from the task manager
(:func:`~skteam.team.manager.plan_with_manager`, repaired into a DAG by
:func:`repair_plan`) or from :func:`fallback_plan`; skteam's own plans are
then reordered for declared constraints
(:func:`~skteam.team.reorder.plan_for_constraints`).
:func:`~skteam.team.planning.make_plan` is that choice, made the same way by
the sampler and the ``skteam plan`` command.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from ..schema import Schema


@dataclass(frozen=True)
class Role:
    """A group of features generated together by one worker.

    Attributes
    ----------
    name : str
        The role's name, unique within a plan.
    features : tuple of str
        The feature names the role's worker writes.
    """

    name: str
    features: tuple


@dataclass(frozen=True)
class Plan:
    """Roles and precedence edges ``(parent_role, child_role)`` by name.

    Attributes
    ----------
    roles : tuple of Role
        The roles, in plan order; every feature belongs to exactly one.
    edges : tuple of (str, str), default=()
        Precedence edges ``(parent_role, child_role)``; they form a DAG.
    source : str, default="user"
        Where the plan comes from: ``"user"``, ``"manager"``,
        ``"manager (repaired)"`` or ``"fallback"``.
    repairs : tuple of str, default=()
        What skteam changed or why it chose the plan, one line each.
    """

    roles: tuple
    edges: tuple = ()
    source: str = "user"
    repairs: tuple = field(default=())

    def role(self, name: str) -> Role:
        for r in self.roles:
            if r.name == name:
                return r
        raise KeyError(name)

    def parents(self, name: str) -> list[str]:
        return [a for a, b in self.edges if b == name]

    def ancestors(self, name: str) -> list[str]:
        """Every role upstream of ``name``, in plan order.

        Parameters
        ----------
        name : str
            A role's name.

        """
        seen = set()
        stack = self.parents(name)
        while stack:
            r = stack.pop()
            if r not in seen:
                seen.add(r)
                stack.extend(self.parents(r))
        return [r.name for r in self.roles if r.name in seen]

    def upstream_features(self, name: str) -> list[str]:
        """The features of every role upstream of ``name``, in plan order.

        Parameters
        ----------
        name : str
            The role whose parents' features are wanted.

        """
        return [f for r in self.ancestors(name) for f in self.role(r).features]

    def levels(self) -> list[list[str]]:
        """Roles grouped by topological level; a level's roles are independent."""
        remaining = [r.name for r in self.roles]
        done: set = set()
        out = []
        while remaining:
            level = [n for n in remaining if set(self.parents(n)) <= done]
            if not level:  # validated plans are acyclic
                raise ValueError("The plan's edges contain a cycle.")
            out.append(level)
            done.update(level)
            remaining = [n for n in remaining if n not in done]
        return out

    def to_dict(self) -> dict:
        return {
            "roles": [{"name": r.name, "features": list(r.features)}
                      for r in self.roles],
            "edges": [list(e) for e in self.edges],
            "source": self.source,
            "repairs": list(self.repairs),
        }


def closes_cycle(edges, new_edge) -> bool:
    """True if adding ``new_edge`` to ``edges`` closes a cycle."""
    a, b = new_edge
    graph: dict = {}
    for x, y in edges:
        graph.setdefault(x, []).append(y)
    stack, seen = [b], set()
    while stack:
        node = stack.pop()
        if node == a:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, []))
    return False


def load_plan(plan, schema: Schema) -> Plan:
    """Validate a user plan (dict or JSON path) strictly.

    Parameters
    ----------
    plan : dict, str or path-like
        ``{"roles": [{"name": ..., "features": [...]}, ...], "edges":
        [[parent_role, child_role], ...]}`` (edges optional), or the path of
        such a JSON file.
    schema : Schema
        The features the plan must cover, each exactly once.

    Returns
    -------
    plan : Plan
        With ``source="user"``.

    Raises
    ------
    ValueError
        For an unknown feature, a feature in two roles, a feature in no role,
        duplicate role names, edges naming unknown roles, or a cycle.
    """
    if isinstance(plan, (str, PathLike)):
        path = Path(plan)
        try:
            plan = json.loads(path.read_text())
        except FileNotFoundError:
            raise ValueError(f"plan file {str(path)!r} does not exist.") from None
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"plan file {str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(plan, dict) or "roles" not in plan:
        raise ValueError(
            'plan must be a dict like {"roles": [{"name": "A", "features": '
            '["x1", "x2"]}], "edges": [["A", "B"]]} or the path of such a JSON file.'
        )
    known = set(schema.names)
    owner: dict = {}
    roles = []
    for i, item in enumerate(plan["roles"]):
        if not isinstance(item, dict) or "name" not in item or "features" not in item:
            raise ValueError(f"plan role #{i} must be a dict with 'name' and "
                             f"'features', got {item!r}.")
        name = str(item["name"])
        if any(r.name == name for r in roles):
            raise ValueError(f"plan has two roles named {name!r}; role names "
                             "must be unique.")
        feats = item["features"]
        if isinstance(feats, str):
            feats = [feats]
        # integer names stand for the text names of integer or array columns
        feats = [str(f) if isinstance(f, int) and not isinstance(f, bool)
                 and str(f) in known else f for f in feats]
        for f in feats:
            if f not in known:
                raise ValueError(f"plan role {name!r} names unknown feature {f!r}; "
                                 f"known features: {sorted(known)}.")
            if f in owner:
                raise ValueError(f"plan puts feature {f!r} in two roles ({owner[f]!r} "
                                 f"and {name!r}); each feature belongs to exactly "
                                 "one role.")
            owner[f] = name
        if not feats:
            raise ValueError(f"plan role {name!r} has no features.")
        roles.append(Role(name, tuple(feats)))
    missing = [f for f in schema.names if f not in owner]
    if missing:
        raise ValueError(f"plan leaves features {missing} in no role; add them to "
                         "a role.")
    names = {r.name for r in roles}
    edges = []
    for e in plan.get("edges", []):
        if not (isinstance(e, (list, tuple)) and len(e) == 2):
            raise ValueError(f"plan edge {e!r} must be a pair [parent_role, "
                             "child_role].")
        a, b = str(e[0]), str(e[1])
        for r in (a, b):
            if r not in names:
                raise ValueError(f"plan edge {list(e)!r} names unknown role {r!r}; "
                                 f"roles: {sorted(names)}.")
        if a == b or closes_cycle(edges, (a, b)):
            raise ValueError(f"plan edge {list(e)!r} creates a cycle; the edges "
                             "must form a DAG.")
        if (a, b) not in edges:
            edges.append((a, b))
    return Plan(tuple(roles), tuple(edges), source="user")


def repair_plan(raw: dict, schema: Schema) -> Plan:
    """Turn a manager answer into a valid plan, deterministically.

    Rules, each recorded in ``Plan.repairs``: a feature already assigned is
    dropped from later roles; roles left empty are dropped; duplicate role
    names get a numeric suffix; features in no role form a final role
    "Remaining features" that depends on every other role; edges with an
    unknown end or a self-loop are dropped; an edge that would close a cycle
    is dropped (edges are considered in the manager's order).

    Parameters
    ----------
    raw : dict
        The parsed manager answer: ``{"roles": [{"name": ..., "features":
        [...]}, ...], "edges": [[i, j], ...]}`` with edges between role
        indices.
    schema : Schema
        The features the plan must cover.

    Returns
    -------
    plan : Plan
        With ``source="manager"``, or ``"manager (repaired)"`` when a rule
        applied.
    """
    repairs = []
    owner: dict = {}
    roles = []
    index_map = {}
    for i, item in enumerate(raw.get("roles", [])):
        name = " ".join(str(item.get("name", "")).split()) or f"Role {i + 1}"
        feats = []
        for f in item.get("features", []):
            if f not in schema.names:
                repairs.append(f"dropped unknown feature {f!r} from role {name!r}")
            elif f in owner:
                repairs.append(
                    f"feature {f!r} was in roles {owner[f]!r} and {name!r}; "
                    f"kept in {owner[f]!r}"
                )
            else:
                owner[f] = name
                feats.append(f)
        if not feats:
            repairs.append(f"dropped role {name!r} with no features of its own")
            continue
        base, k = name, 2
        while any(r.name == name for r in roles):
            name = f"{base} {k}"
            k += 1
        if name != base:
            repairs.append(f"renamed duplicate role {base!r} to {name!r}")
        index_map[i] = name
        roles.append(Role(name, tuple(feats)))
    edges = []
    for e in raw.get("edges", []):
        try:
            a, b = index_map.get(int(e[0])), index_map.get(int(e[1]))
        except (TypeError, ValueError, IndexError):
            a = b = None
        if a is None or b is None or a == b:
            repairs.append(f"dropped edge {e!r}: unknown role or self-loop")
            continue
        if closes_cycle(edges, (a, b)):
            repairs.append(f"dropped edge [{a!r}, {b!r}]: it closed a cycle")
            continue
        if (a, b) not in edges:
            edges.append((a, b))
    missing = tuple(f for f in schema.names if f not in owner)
    if missing:
        name = "Remaining features"
        while any(r.name == name for r in roles):
            name += " 2"
        repairs.append(f"features {list(missing)} were in no role; put in {name!r}")
        for r in roles:
            edges.append((r.name, name))
        roles.append(Role(name, missing))
    source = repaired_source("manager") if repairs else "manager"
    return Plan(tuple(roles), tuple(edges), source=source, repairs=tuple(repairs))


def fallback_plan(schema: Schema, reason: str = "") -> Plan:
    """Deterministic plan: categorical features first, then numeric ones.

    Parameters
    ----------
    schema : Schema
        The features to cover.
    reason : str, default=""
        Why the fallback is used; recorded in ``Plan.repairs`` when given.

    Returns
    -------
    plan : Plan
        A role ``"Profile"`` (the categorical features) before a role
        ``"Measurements"`` (the others), either omitted when empty;
        ``source="fallback"``.
    """
    cats = tuple(s.name for s in schema.features if s.kind == "categorical")
    nums = tuple(s.name for s in schema.features if s.kind != "categorical")
    roles = []
    if cats:
        roles.append(Role("Profile", cats))
    if nums:
        roles.append(Role("Measurements", nums))
    edges = ((roles[0].name, roles[1].name),) if len(roles) == 2 else ()
    repairs = (reason,) if reason else ()
    return Plan(tuple(roles), edges, source="fallback", repairs=repairs)


def repaired_source(source: str) -> str:
    """The ``Plan.source`` of a plan skteam changed: ``"manager (repaired)"``."""
    return "manager (repaired)" if source == "manager" else source
