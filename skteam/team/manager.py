"""Task manager: the plan's proposal by the language model (paper §2.1, Eq. 1).

Two forms: :func:`plan_with_manager` asks for the whole plan in one
grammar-constrained call (the paper's form, for models that can follow it);
:func:`plan_in_steps` splits the task into questions a small model can
answer, each constrained by grammar: a group name per feature among words of
the table, then one choice per feature among the names, then a yes/no per
ordered pair of roles.

The plan's types, the repair of an answer and the choice between plans are
in :mod:`skteam.team.plan` and :mod:`skteam.team.planning`.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter

import numpy as np

from ..rowformat import format_row
from ..schema import Schema
from . import prompts
from .data_plan import (
    _label_association,
    association_matrix,
    feature_tokens,
    forward_edges,
    order_groups,
)
from .plan import Plan, fallback_plan, repair_plan

logger = logging.getLogger("skteam")


#: Most roles the task manager may name (its grammar allows no more).
MANAGER_MAX_ROLES = 4


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
                      max_roles: int = MANAGER_MAX_ROLES, temperature: float = 0.3,
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
    max_roles : int, default=MANAGER_MAX_ROLES
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


#: Most candidate words offered for one feature's group name (step 1).
MAX_NAME_WORDS = 16


def name_options(schema: Schema, limit: int = MAX_NAME_WORDS) -> list:
    """The words each feature's group may be named with (step 1).

    A feature is offered the words it shares with at least one other feature
    (:func:`~skteam.team.data_plan.feature_tokens`: names and descriptions,
    without the words most features carry), then its own words, then the
    table's other shared words, title-cased, at most ``limit``. A feature
    without any word is offered its own name.
    """
    sets = feature_tokens(schema)
    df = Counter(t for s in sets for t in s)
    shared = [t for t in dict.fromkeys(t for s in sets for t in sorted(s))
              if df[t] >= 2]
    out = []
    for spec, own in zip(schema.features, sets):
        words = ([t for t in shared if t in own] + sorted(own - set(shared))
                 + [t for t in shared if t not in own])
        words = list(dict.fromkeys(w.title() for w in words))[:limit]
        out.append(words or [prompts._one_line(spec.name)])
    return out


def _choose(backend, system, questions, options, *, seed, temperature, usage):
    """One grammar-constrained answer per question, among its options."""
    prompts_, grammars = [], []
    for (user, prefill), opts in zip(questions, options):
        prompts_.append(backend.chat_prompt(system, user) + prefill)
        grammars.append("start: " + " | ".join(json.dumps(o) for o in opts) + "\n")
    budget = 2 + max(backend.count_tokens(o) for opts in options for o in opts)
    texts = backend.generate(prompts_, grammars,
                             seeds=[seed + k for k in range(len(prompts_))],
                             max_new_tokens=budget, temperature=temperature,
                             usage=usage)
    answers = []
    for text, opts in zip(texts, options):
        text = text.strip()
        answers.append(text if text in opts else None)
    return answers


def plan_in_steps(backend, schema: Schema, X, y=None, *, seed: int,
                  max_roles: int = MANAGER_MAX_ROLES, temperature: float = 0.0,
                  usage=None) -> Plan:
    """The task manager's plan, asked as three kinds of small questions.

    1. **Names.** Each feature's group is named with one of
       :func:`name_options` (words of the table's own feature names and
       descriptions); the names given to at least two features, most given
       first, become the roles (at most ``max_roles``; at least two for a
       table of 4 or more features, at most ``ceil(n / 2)``), topped up with
       names given once where too few are shared.
    2. **Choices.** A feature whose group name became a role is in that role;
       each other feature chooses its role among the names (those that are
       words of its own offered first). Roles that no feature is in are
       dropped.
    3. **Order.** The roles are ordered as the data-aware plan orders its
       groups (:func:`~skteam.team.data_plan.order_groups`: the roles most
       associated with the others and with ``y`` in ``X`` first), and for
       each ordered pair the model answers whether the later role depends on
       the earlier one; "yes" is an edge. A role that got no parent is given
       the one the data-aware plan would give it
       (:func:`~skteam.team.data_plan.forward_edges`), so the team is one
       precedence chain from the first role. Edges only go forward: the plan
       is a DAG by construction.

    Every answer is one option of its grammar, so nothing needs repair but a
    failed call; each step is one batched ``generate`` call.

    Parameters
    ----------
    backend : Backend
        The language model.
    schema : Schema
        The features to assign to roles.
    X : pandas.DataFrame
        The training rows, columns in schema order (for the role order).
    y : array-like, default=None
        Their labels (for the role order).
    seed : int
        Seed of the first question; question ``k`` of a step uses ``seed + k``.
    max_roles : int, default=MANAGER_MAX_ROLES
        Most roles.
    temperature : float, default=0.0
        Sampling temperature (0: greedy).
    usage : Usage, default=None
        Counts the calls.

    Returns
    -------
    plan : Plan
        ``source="manager (steps)"``; :func:`fallback_plan` when a prompt
        does not fit the model's context.
    """
    n = len(schema.names)
    if n < 2:
        return fallback_plan(schema, reason="one feature")
    system = prompts.MANAGER_SYSTEM
    options = name_options(schema)
    questions = [prompts.manager_name_user(schema, spec, words)
                 for spec, words in zip(schema.features, options)]
    context = getattr(backend, "context_length", None)
    longest = max(backend.count_tokens(backend.chat_prompt(system, u) + pre)
                  for u, pre in questions)
    if context and longest + 16 > context:
        logger.warning("The task manager's questions would exceed the model's "
                       "context of %d tokens; using a deterministic plan.", context)
        return fallback_plan(schema, reason="manager prompt exceeds the model's "
                             "context")
    named = _choose(backend, system, questions, options, seed=seed,
                    temperature=temperature, usage=usage)
    votes = Counter(a for a in named if a is not None)
    most = min(max_roles, max(1, math.ceil(n / 2)))
    fewest = min(2, most) if n >= 4 else 1
    ranked = [w for w, _ in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))]
    names = [w for w in ranked if votes[w] >= 2][:most]
    names += [w for w in ranked if w not in names][: max(0, fewest - len(names))]
    if len(names) < fewest:  # too few answers: the features' own words
        names += [w for opts in options for w in opts if w not in names][
            : fewest - len(names)]
    if len(names) == 1:
        return fallback_plan(schema, reason="the manager named one group")
    # a feature whose group name became a role is in it; the others choose,
    # offered first the names that are words of their own
    tokens = feature_tokens(schema)
    ask = [k for k in range(n) if named[k] not in names]
    offers = [sorted(names, key=lambda w: w.lower() not in tokens[k]) for k in ask]
    choices = _choose(
        backend, system,
        [prompts.manager_choice_user(schema, names, schema.features[k], offer)
         for k, offer in zip(ask, offers)],
        offers, seed=seed + n, temperature=temperature, usage=usage) if ask else []
    picked = dict(zip(ask, choices))
    members = {name: [] for name in names}
    for k, spec in enumerate(schema.features):
        pick = named[k] if k not in picked else (picked[k] or offers[ask.index(k)][0])
        members[pick].append(spec.name)
    groups = [[schema.names.index(f) for f in feats]
              for feats in members.values() if feats]
    if len(groups) == 1:
        return fallback_plan(schema, reason="the manager chose one group")
    X_df = X if hasattr(X, "iloc") else None
    if X_df is not None and len(X_df) >= 2:
        assoc = association_matrix(schema, X_df)
        label = _label_association(X_df, y, schema)
    else:
        assoc, label = np.zeros((n, n)), np.zeros(n)
    groups = order_groups(groups, assoc, label)
    role_of = {i: name for name, feats in members.items()
               for i in (schema.names.index(f) for f in feats)}
    role_names = [role_of[g[0]] for g in groups]
    roles = [(nm, [schema.names[i] for i in g]) for nm, g in zip(role_names, groups)]
    pairs = [(i, j) for j in range(1, len(groups)) for i in range(j)]
    answers = _choose(
        backend, system,
        [prompts.manager_edge_user(schema, roles, role_names[i], role_names[j])
         for i, j in pairs],
        [["yes", "no"]] * len(pairs), seed=seed + 2 * n,
        temperature=temperature, usage=usage) if pairs else []
    edges = {(i, j) for (i, j), a in zip(pairs, answers) if a == "yes"}
    orphans = {j for j in range(1, len(groups)) if not any(b == j for _, b in edges)}
    edges |= {(i, j) for i, j in forward_edges(groups, assoc) if j in orphans}
    repairs = [f"names from the table's words: {', '.join(names)}"]
    if orphans:
        repairs.append("roles without a parent named by the manager got the "
                       "data-aware plan's: " + ", ".join(role_names[j]
                                                         for j in sorted(orphans)))
    raw = {"roles": [{"name": nm, "features": feats} for nm, feats in roles],
           "edges": sorted([i, j] for i, j in edges)}
    plan = repair_plan(raw, schema)
    return Plan(plan.roles, plan.edges, source="manager (steps)",
                repairs=tuple(plan.repairs) + tuple(repairs))
