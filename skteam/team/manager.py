"""Task manager: roles and their precedence DAG (paper §2.1, Eq. 1)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from ..rowformat import format_row
from ..schema import Schema
from . import prompts

logger = logging.getLogger("skteam")


@dataclass(frozen=True)
class Role:
    """A group of features generated together by one worker."""

    name: str
    features: tuple


@dataclass(frozen=True)
class Plan:
    """Roles and precedence edges ``(parent_role, child_role)`` by name."""

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
        """Every role upstream of ``name``, in plan order."""
        seen = set()
        stack = self.parents(name)
        while stack:
            r = stack.pop()
            if r not in seen:
                seen.add(r)
                stack.extend(self.parents(r))
        return [r.name for r in self.roles if r.name in seen]

    def upstream_features(self, name: str) -> list[str]:
        """The features of every role upstream of ``name``, in plan order."""
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


def _find_cycle_edge(edges, new_edge) -> bool:
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
            raise ValueError(
                f"plan role #{i} must be a dict with 'name' and 'features', "
                f"got {item!r}."
            )
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
                raise ValueError(
                    f"plan role {name!r} names unknown feature {f!r}; known features: "
                    f"{sorted(known)}."
                )
            if f in owner:
                raise ValueError(
                    f"plan puts feature {f!r} in two roles ({owner[f]!r} and "
                    f"{name!r}); "
                    "each feature belongs to exactly one role."
                )
            owner[f] = name
        if not feats:
            raise ValueError(f"plan role {name!r} has no features.")
        roles.append(Role(name, tuple(feats)))
    missing = [f for f in schema.names if f not in owner]
    if missing:
        raise ValueError(
            f"plan leaves features {missing} in no role; add them to a role."
        )
    names = {r.name for r in roles}
    edges = []
    for e in plan.get("edges", []):
        if not (isinstance(e, (list, tuple)) and len(e) == 2):
            raise ValueError(
                f"plan edge {e!r} must be a pair [parent_role, child_role].")
        a, b = str(e[0]), str(e[1])
        for r in (a, b):
            if r not in names:
                raise ValueError(
                    f"plan edge {list(e)!r} names unknown role {r!r}; "
                    f"roles: {sorted(names)}."
                )
        if a == b or _find_cycle_edge(edges, (a, b)):
            raise ValueError(
                f"plan edge {list(e)!r} creates a cycle; the edges must form a DAG."
            )
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
        if _find_cycle_edge(edges, (a, b)):
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
    source = "manager (repaired)" if repairs else "manager"
    return Plan(tuple(roles), tuple(edges), source=source, repairs=tuple(repairs))


def manager_grammar(schema: Schema, max_roles: int) -> str:
    """Lark grammar of the manager's answer.

    The answer names 1..``max_roles`` roles, then gives every feature (the
    feature names are forced, in order) the index of its role, then lists
    precedence edges. So every feature gets exactly one role by
    construction; only empty roles and cycles can need repair.
    """
    idx = " | ".join(f'"{k}"' for k in range(max_roles))
    roles = ""
    for k in reversed(range(max_roles)):
        line = f'"{k}. " NAME "\\n"'
        roles = f"{line} ({roles})?" if roles else line
    feats = " ".join(
        f'{json.dumps(prompts._one_line(n) + prompts.ARROW)} idx "\\n"'
        for n in schema.names
    )
    max_edges = max(0, max_roles * (max_roles - 1) // 2 - 1)
    return (
        f'start: "Roles:\\n" roles "Features:\\n" {feats} "Order: " edges "\\n"\n'
        f"roles: {roles}\n"
        "NAME: /[A-Z][A-Za-z ]{1,28}/\n"
        f"idx: {idx}\n"
        f'edges: "none" | edge ("; " edge)~0..{max_edges}\n'
        'edge: idx " before " idx\n'
    )


_ROLE_LINE = re.compile(r"^(\d+)\. (.+)$")
_EDGE = re.compile(r"(\d+) before (\d+)")


def parse_manager_answer(text: str, schema: Schema) -> dict:
    """Turn the manager's text into ``{"roles": [...], "edges": [...]}``."""
    head, _, rest = text.partition("Features:\n")
    # the order line is last; a feature name may itself hold "Order: "
    feats_text, found, order = rest.rpartition("Order: ")
    if not found or not order:
        raise ValueError("incomplete answer")
    names = {}
    for line in head.splitlines()[1:]:
        m = _ROLE_LINE.match(line.strip())
        if m:
            names[int(m.group(1))] = m.group(2).strip()
    members: dict = {k: [] for k in names}
    for feature, line in zip(schema.names, feats_text.splitlines()):
        k = int(line.rsplit(prompts.ARROW, 1)[1])
        members.setdefault(k, []).append(feature)
    roles = [{"name": names.get(k, f"Role {k + 1}"), "features": members[k]}
             for k in sorted(members)]
    position = {k: p for p, k in enumerate(sorted(members))}
    edges = [[position.get(int(a), -1), position.get(int(b), -1)]
             for a, b in _EDGE.findall(order)]
    return {"roles": roles, "edges": edges}


def plan_with_manager(backend, schema: Schema, X_examples, *, seed: int,
                      max_roles: int = 4, temperature: float = 0.3,
                      usage=None) -> Plan:
    """One constrained call to the task manager, repaired into a valid plan."""
    max_roles = max(1, min(max_roles, len(schema.names)))
    rows = [format_row(schema.features, row) for row in X_examples]
    budget = 16 + 12 * max_roles + sum(
        backend.count_tokens(prompts._one_line(n) + prompts.ARROW) + 2
        for n in schema.names
    ) + 8 * max_roles * max_roles
    context = getattr(backend, "context_length", None)
    while True:
        system, user = prompts.manager_prompt(schema, rows, max_roles)
        prompt = backend.chat_prompt(system, user)
        if not context or backend.count_tokens(prompt) + budget + 16 <= context:
            break
        if not rows:
            logger.warning("The task manager's prompt would exceed the model's "
                           "context of %d tokens; using a deterministic plan.",
                           context)
            return fallback_plan(schema, reason="manager prompt exceeds the "
                                 "model's context")
        rows = rows[:-1]  # fewer example rows, never a truncated prompt
    grammar = manager_grammar(schema, max_roles)
    (text,) = backend.generate([prompt], [grammar], seeds=[seed],
                               max_new_tokens=budget, temperature=temperature,
                               usage=usage)
    try:
        raw = parse_manager_answer(text, schema)
    except (ValueError, IndexError):
        if usage is not None:
            usage.add(parse_failures=1)
        logger.warning("The task manager's answer was incomplete; using a "
                       "deterministic plan instead.")
        return fallback_plan(schema, reason="manager answer incomplete")
    return repair_plan(raw, schema)


def fallback_plan(schema: Schema, reason: str = "") -> Plan:
    """Deterministic plan: categorical features first, then numeric ones."""
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
