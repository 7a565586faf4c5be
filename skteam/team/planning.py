"""The choice of a fit's plan: the user's, the data-aware one, the manager's.

:func:`make_plan` is called by :class:`~skteam.TeamTrimSampler` and by the
``skteam plan`` command, so both choose the same plan from the same inputs.
It sits above the plan's types (:mod:`skteam.team.plan`), the task manager
(:mod:`skteam.team.manager`), the data-aware plan
(:mod:`skteam.team.data_plan`, with the model's reading of the feature names,
:mod:`skteam.team.meaning`) and the reordering for constraints
(:mod:`skteam.team.reorder`).
"""

from __future__ import annotations

from ..utils import derive_rng, derive_seed
from .data_plan import MAX_ROLE_FEATURES, data_plan, fit_role_names, unless_degenerate
from .manager import MANAGER_MAX_ROLES, plan_in_steps, plan_with_manager
from .meaning import meaning_similarity
from .plan import Plan, Role, fallback_plan, load_plan
from .reorder import plan_for_constraints

#: The plans named by a string (``plan=``) rather than given as roles.
NAMED_PLANS = ("data", "steps", "single")


def is_user_plan(plan) -> bool:
    """Whether ``plan`` is the user's own (roles or a file), used as given."""
    return plan is not None and not (isinstance(plan, str) and plan in NAMED_PLANS)


def make_plan(backend, schema, X, y=None, *, plan=None, constraints=(), seed: int,
              manager: bool = True, usage=None) -> Plan:
    """The plan of one fit: the user's, else the task manager's or the fallback.

    Parameters
    ----------
    backend : Backend or None
        The model of the task manager's call (unused when ``plan`` is given
        or ``manager`` is false).
    schema : Schema
    X : pandas.DataFrame
        The training rows, columns in schema order; the manager is shown up
        to five of them, drawn with ``derive_rng(seed, 1)``.
    y : array-like, default=None
        Their labels (the data-aware plan orders roles by them).
    plan : dict, path, "data", "steps", "single" or None
        A user plan (:func:`~skteam.team.plan.load_plan`), used as given and
        never reordered; ``"data"``: the data-aware plan
        (:mod:`skteam.team.data_plan`), which also replaces a degenerate
        manager or fallback plan and is used without asking the manager for
        a table of more than ``MANAGER_MAX_ROLES * MAX_ROLE_FEATURES``
        features (its plan of at most 4 roles would be degenerate);
        ``"steps"``: the task manager in steps
        (:func:`~skteam.team.manager.plan_in_steps`); ``"single"``: one role
        holding every feature (one prompt writes whole rows, the team's
        baseline); None: the task manager's single call
        (:func:`~skteam.team.manager.plan_with_manager`).
    constraints : ConstraintSet or sequence of Constraint
        Declared constraints; skteam's own plans are reordered for them
        (:func:`~skteam.team.reorder.plan_for_constraints`).
    seed : int
        The fit's base seed.
    manager : bool, default=True
        Whether to ask the task manager; false gives
        :func:`~skteam.team.plan.fallback_plan` (the sampler passes false when
        no class needs rows). A table with one feature never asks it.
    usage : Usage, default=None
        Counts the manager's call.

    Returns
    -------
    plan : Plan
    """
    named = plan if isinstance(plan, str) and plan in NAMED_PLANS else None
    if named == "single":
        return Plan((Role("Whole rows", tuple(schema.names)),), (), source="single",
                    repairs=("plan='single': one role writes every feature",))
    if is_user_plan(plan):
        return load_plan(plan, schema)

    def meaning():  # embeds the feature texts only if a data plan is built
        return meaning_similarity(backend, schema)

    if named == "data":
        chosen = data_plan(schema, X, y, reason="plan='data'", meaning=meaning())
    elif len(schema.names) == 1:
        chosen = fallback_plan(schema, reason="one feature: no manager call")
    elif not manager:
        chosen = fallback_plan(schema)
    elif len(schema.names) > MANAGER_MAX_ROLES * MAX_ROLE_FEATURES:
        # any plan of the manager's few roles would have a role over the cap
        # and be replaced: the call is skipped
        chosen = data_plan(schema, X, y, reason=(
            f"{len(schema.names)} features need more than {MANAGER_MAX_ROLES} "
            f"roles of at most {MAX_ROLE_FEATURES}: the task manager was not "
            "asked"), meaning=meaning())
    elif named == "steps":
        chosen = plan_in_steps(backend, schema, X, y, seed=derive_seed(seed, 2),
                               usage=usage)
    else:
        idx = derive_rng(seed, 1).permutation(len(X))[: min(5, len(X))]
        chosen = plan_with_manager(backend, schema, X.iloc[idx].values.tolist(),
                                   seed=derive_seed(seed, 2), usage=usage)
    if chosen.source != "data":
        chosen = unless_degenerate(chosen, schema, X, y, meaning=meaning)
    if chosen.source.startswith("manager"):
        chosen = fit_role_names(chosen, schema)
    if len(constraints):
        chosen = plan_for_constraints(chosen, list(constraints), schema)
    return chosen
