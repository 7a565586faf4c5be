"""The team: task manager, role workers and label worker (paper §2.1)."""

from .labeler import label_rows
from .manager import (
    Plan,
    Role,
    fallback_plan,
    load_plan,
    plan_with_manager,
    repair_plan,
)
from .workers import ExamplePool, generate_features

__all__ = [
    "Plan",
    "Role",
    "load_plan",
    "repair_plan",
    "fallback_plan",
    "plan_with_manager",
    "ExamplePool",
    "generate_features",
    "label_rows",
]
