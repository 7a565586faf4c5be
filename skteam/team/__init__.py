"""The team: task manager, role workers and label worker (paper §2.1)."""

from .examples import ExamplePool
from .generation import TeamGenerator
from .labeler import label_rows
from .manager import plan_with_manager
from .plan import (
    Plan,
    Role,
    fallback_plan,
    load_plan,
    repair_plan,
)
from .planning import make_plan
from .reorder import plan_for_constraints
from .workers import generate_features

__all__ = [
    "Plan",
    "Role",
    "load_plan",
    "repair_plan",
    "fallback_plan",
    "plan_for_constraints",
    "make_plan",
    "plan_with_manager",
    "ExamplePool",
    "generate_features",
    "label_rows",
    "TeamGenerator",
]
