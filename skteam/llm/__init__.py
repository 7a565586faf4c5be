"""Language-model backends: protocol, registry, transformers engine."""

from .base import Backend, Usage
from .embedded import embedded_model_path
from .registry import (
    clear_registry,
    get_backend,
    loaded_backends,
    parse_model_spec,
    register_backend_kind,
)

__all__ = [
    "Backend",
    "Usage",
    "embedded_model_path",
    "get_backend",
    "loaded_backends",
    "parse_model_spec",
    "register_backend_kind",
    "clear_registry",
]
