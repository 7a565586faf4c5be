"""Every prompt text of the team, in one place.

The texts follow the paper's prompts (task manager, Fig. 6; role workers,
Figs. 7 and 8): a role, the features and their meanings, the parent values
already generated and real example rows. Two changes suit small models and
constrained decoding: every prompt asks for one row (its examples differ
from row to row, so rows do not collapse onto one example), and the answer
format is the compact line of :mod:`skteam.rowformat` rather than JSON.

Column names, category values and descriptions are data: they are inserted
as text inside labelled lines and never change the structure of a prompt;
the grammar, not the prompt, decides what can be generated.
"""

from __future__ import annotations

from typing import Sequence

from ..rowformat import _category_text, format_row
from ..schema import FeatureSpec, Schema

ARROW = " -> "
#: The start of every line of real values a worker prompt shows and of every
#: line a worker writes (forced by the grammar). Without it, the first line of
#: an answer begins where a chat model starts a numbered list: the bundled
#: model puts two thirds of its first-digit mass on "1" there on average,
#: whatever the examples show (docs/method.md, *Line marks*).
LINE_MARK = "- "


def _one_line(text) -> str:
    return " ".join(str(text).split())


def _name(name) -> str:
    """A column name as prompts show it: as a cell is written (JSON-quoted when
    it holds a separator, a quote or a line break), so it stays one item."""
    return _category_text(str(name))


def describe_feature(spec: FeatureSpec) -> str:
    """One line naming a feature, its meaning and its legal values.

    Categories are written exactly as the rows write them (see
    :mod:`skteam.rowformat`), so a value with a comma or a line break is one
    quoted item and never splits the line.
    """
    meaning = f": {_one_line(spec.description)}" if spec.description else ""
    if spec.kind == "categorical":
        values = ", ".join(_category_text(c) for c in spec.categories)
        legal = f"one of {values}"
    elif spec.integer:
        legal = f"integer from {int(spec.low)} to {int(spec.high)}"
    else:
        d = spec.decimals
        legal = f"number from {spec.low:.{d}f} to {spec.high:.{d}f}"
    return f"- {_name(spec.name)}{meaning} ({legal})"


def _context(schema: Schema) -> str:
    lines = []
    if schema.dataset_description:
        lines.append(f"Dataset: {_one_line(schema.dataset_description)}")
    target = _one_line(schema.target)
    if schema.target_description:
        lines.append(f"Outcome {target}: {_one_line(schema.target_description)}")
    return "\n".join(lines)


def _table_header(schema: Schema) -> list:
    """The lines every prompt opens with: the context, then the features."""
    lines = []
    ctx = _context(schema)
    if ctx:
        lines.append(ctx)
    lines.append("Features and their meanings:")
    lines.extend(describe_feature(s) for s in schema.features)
    return lines


# -- task manager (paper Fig. 6) ----------------------------------------------
MANAGER_SYSTEM = (
    "You are a Task Manager in a data generation system. You split the "
    "features of a table into roles, one role per group of related features, "
    "and order the roles so that each role can use the features made before it."
)


def manager_prompt(schema: Schema, example_rows: Sequence[str], max_roles: int):
    """System and user text of the task manager's single call (whole plan)."""
    lines = _table_header(schema)
    if example_rows:
        lines.append("Example rows (" + ",".join(_name(n) for n in schema.names)
                     + "):")
        lines.extend(example_rows)
    lines += [
        f"Task: create between 1 and {max_roles} roles, each a short name for a "
        "group of related features. Give every feature the number of its role. "
        "Then give the order: 'a before b' means role b depends on role a.",
        # placeholder features of no real table; role names are words of the
        # table's own features (the grammar allows no other word)
        "Example for features kappa_len, kappa_width, omega_count, omega_share:",
        "Roles:",
        "0. Kappa",
        "1. Omega",
        "Features:",
        f"kappa_len{ARROW}0",
        f"kappa_width{ARROW}0",
        f"omega_count{ARROW}1",
        f"omega_share{ARROW}1",
        "Order: 0 before 1",
    ]
    return MANAGER_SYSTEM, "\n".join(lines)


# -- task manager in steps (team/manager.py:plan_in_steps) ---------------------
# Three questions a small model can answer, each under a grammar: a name for a
# feature's group, a choice among the names, a yes/no per pair of roles. The
# table's header comes first and the question last, so the prompts of one
# step share their prefix.
GROUPS_INTRO = ("Related features form a group; a group is named by a word that "
                "its features share.")


def _feature_ref(spec: FeatureSpec) -> str:
    meaning = f" ({_one_line(spec.description)})" if spec.description else ""
    return f"{_name(spec.name)}{meaning}"


def manager_name_user(schema: Schema, spec: FeatureSpec, words: Sequence[str]):
    """User text asking for the name of ``spec``'s group among ``words``.

    Returns
    -------
    user, prefill : str
        The question and the start of the answer.
    """
    lines = _table_header(schema) + [GROUPS_INTRO]
    lines.append(f"Task: name the group of the feature {_feature_ref(spec)} "
                 f"with one of the words {', '.join(words)}.")
    return "\n".join(lines), f"Group of {_name(spec.name)}: "


def manager_choice_user(schema: Schema, names: Sequence[str], spec: FeatureSpec,
                        options: Sequence[str]):
    """User text asking which of the groups ``names`` ``spec`` belongs to.

    Returns
    -------
    user, prefill : str
        The question and the start of the answer.
    """
    lines = _table_header(schema) + [GROUPS_INTRO,
                                     "Groups: " + ", ".join(names) + "."]
    lines.append(f"Task: choose the group of the feature {_feature_ref(spec)}: "
                 f"one of {', '.join(options)}.")
    return "\n".join(lines), f"Group of {_name(spec.name)}: "


def manager_edge_user(schema: Schema, roles: Sequence[tuple], parent: str,
                      child: str):
    """User text asking whether role ``child`` depends on role ``parent``.

    ``roles`` holds ``(name, feature names)`` pairs in the plan's order.

    Returns
    -------
    user, prefill : str
        The question and the start of the answer.
    """
    lines = _table_header(schema) + ["Groups of features:"]
    lines += [f"- {_one_line(name)}: " + ", ".join(_name(f) for f in feats)
              for name, feats in roles]
    lines.append(f"Question: do the values of the group {_one_line(child)} "
                 f"depend on the values of the group {_one_line(parent)}? "
                 "Answer yes or no.")
    return "\n".join(lines), "Answer: "


# -- role workers (paper Figs. 7 and 8) -----------------------------------------
# A worker sees its parents only: its prompt describes the columns of its
# ancestor roles that it is shown, then its own, and no other column of the
# table. The shared part (system text, dataset, the parents' meanings) comes
# first and the role- and row-specific part last, so the prompts of a role,
# and of roles with the same parents, share one prompt prefix whose attention
# state is computed once.
WORKER_SYSTEM = (
    "You are a worker in a data generation team. Each worker has a role and "
    "writes realistic, diverse values for its features, consistent with the "
    "values other workers already wrote for the same record and with the "
    "patterns of the real examples."
)


def worker_user(
    schema: Schema,
    role_name: str,
    role_specs: Sequence[FeatureSpec],
    parent_specs: Sequence[FeatureSpec],
    target_class,
    examples: Sequence[tuple[str, str]],
    n_rows: int = 1,
) -> str:
    """User text of a worker prompt for ``n_rows`` new rows.

    The prompt names the features of ``parent_specs`` and ``role_specs``
    only, in that order; ``examples`` holds ``(parent_cells, role_cells)``
    lines of real rows of the target class.
    """
    target = _one_line(schema.target)
    cls = _one_line(target_class)
    lines = []
    ctx = _context(schema)
    if ctx:
        lines.append(ctx)
    lines.append("Features and their meanings:")
    lines.extend(describe_feature(s) for s in [*parent_specs, *role_specs])
    yours = ", ".join(_name(s.name) for s in role_specs)
    records = "one new record" if n_rows == 1 else f"{n_rows} new records"
    lines.append(
        f"You are the {_one_line(role_name)}. Task: write the values of {yours} "
        f"for {records} with {target} = {cls}."
    )
    header = ",".join(_name(s.name) for s in role_specs)
    if parent_specs:
        given = ",".join(_name(s.name) for s in parent_specs)
        lines.append(f"Real records with {target} = {cls} ({given}{ARROW}{header}):")
        lines.extend(worker_line(p, r) for p, r in examples)
        lines.append("Complete each new line with values that fit its given values.")
    else:
        lines.append(f"Real records with {target} = {cls} ({header}):")
        lines.extend(worker_line("", r) for _, r in examples)
        lines.append("Write new, varied lines of values, one per record.")
    return "\n".join(lines)


def worker_line(parent_cells: str, role_cells: str) -> str:
    """One line of a worker prompt: the mark, the parent cells and the arrow
    (when the role has parents), then the role's cells."""
    return LINE_MARK + (parent_cells + ARROW if parent_cells else "") + role_cells


def worker_prefill(parent_specs, parent_values) -> str:
    """Fixed start of a row's answer line: the mark, then its parent cells and
    the arrow."""
    return worker_line(format_row(parent_specs, parent_values), "")


# -- label worker (paper Eq. 4) ---------------------------------------------------
LABELER_SYSTEM = (
    "You are the Outcome Expert of a data generation team. Given a record, "
    "you give its most likely outcome, following the real examples."
)


def labeler_user(schema: Schema, examples: Sequence[tuple[str, str]]) -> str:
    """User text of the label worker; ``examples`` are ``(cells, label)``.

    The answer lines repeat each new record (forced) and add its label.
    """
    target = _one_line(schema.target)
    classes = ", ".join(_one_line(c) for c in schema.classes)
    lines = _table_header(schema)
    lines.append(f"Task: give the outcome {target} (one of {classes}) "
                 "of each new record.")
    lines.append("Real records (" + ",".join(_name(n) for n in schema.names)
                 + f"{ARROW}{target}):")
    lines.extend(f"{x}{ARROW}{y}" for x, y in examples)
    return "\n".join(lines)
