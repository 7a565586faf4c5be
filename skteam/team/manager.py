"""Task manager: one grammar-constrained call that proposes a plan (paper §2.1, Eq. 1).

The plan's types, the repair of an answer and the choice between plans are
in :mod:`skteam.team.plan`.
"""

from __future__ import annotations

import json
import logging
import re

from ..rowformat import format_row
from ..schema import Schema
from . import prompts
from .plan import Plan, fallback_plan, repair_plan

logger = logging.getLogger("skteam")


def role_words(schema: Schema, limit: int = 64) -> list:
    """The words a role name may use: those of the table's own names and texts.

    Feature names and descriptions are split at anything that is not a
    letter or a digit and at lower-to-upper case changes; words of three or
    more letters are title-cased and kept in order of first appearance (at
    most ``limit``), with ``"Features"``. A table whose names hold no such
    word (array columns ``"0", "1", …``) also gets its names' numbers.
    """
    texts = [t for s in schema.features for t in (s.name, s.description or "")]
    words = []
    for text in texts:
        spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(text))
        words += [w.title() for w in re.split(r"[^A-Za-z0-9]+", spaced)
                  if len(w) >= 3 and w.isalpha()]
    if not words:
        words = [w for n in schema.names for w in re.findall(r"[0-9]+", str(n))]
    return list(dict.fromkeys(words))[:limit] + ["Features"]


def manager_grammar(schema: Schema, max_roles: int) -> str:
    """Lark grammar of the manager's answer.

    The answer names 1..``max_roles`` roles, then gives every feature (the
    feature names are forced, in order) the index of its role, then lists
    precedence edges. So every feature gets exactly one role by
    construction; only empty roles and cycles can need repair. A role name
    is one to three of :func:`role_words`: words of the table's own feature
    names and descriptions, so no text of the prompt's worked example (or
    any other table) can become a role name.
    """
    idx = " | ".join(f'"{k}"' for k in range(max_roles))
    roles = ""
    for k in reversed(range(max_roles)):
        line = f'"{k}. " name "\\n"'
        roles = f"{line} ({roles})?" if roles else line
    feats = " ".join(
        f'{json.dumps(prompts._one_line(n) + prompts.ARROW)} idx "\\n"'
        for n in schema.names
    )
    words = " | ".join(json.dumps(w) for w in role_words(schema))
    max_edges = max(0, max_roles * (max_roles - 1) // 2 - 1)
    return (
        f'start: "Roles:\\n" roles "Features:\\n" {feats} "Order: " edges "\\n"\n'
        f"roles: {roles}\n"
        'name: word (" " word)~0..2\n'
        f"word: {words}\n"
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
    """One constrained call to the task manager, repaired into a valid plan.

    Parameters
    ----------
    backend : Backend
        The language model.
    schema : Schema
        The features to assign to roles.
    X_examples : iterable of sequence
        Real rows shown in the prompt (values in schema order); trailing
        rows are dropped when the prompt would exceed the model's context.
    seed : int
        Seed of the generation call.
    max_roles : int, default=4
        Most roles the answer may name (at most the number of features).
    temperature : float, default=0.3
        Sampling temperature.
    usage : Usage, default=None
        A caller's counter that receives the call's counts too (and a parse
        failure).

    Returns
    -------
    plan : Plan
        :func:`repair_plan` of the answer, or :func:`fallback_plan` when the
        prompt does not fit the context or the answer is incomplete.
    """
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
