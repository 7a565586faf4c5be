"""Test helpers: a grammar-only test double of the language-model backend.

Importing this module registers the backend kind ``"test"``, so that
``model="test::uniform"`` names :class:`UniformGrammarBackend` in this
process::

    import skteam.testing  # registers model="test::uniform", a test double

The double samples every token uniformly among the tokens the grammar
allows, using the embedded model's tokenizer but no weights. Its rows are
valid by construction and random in content. It exists for fast unit and
API-conformance tests, benchmarks of the plumbing and API demonstrations
where the model is not the subject; it is **not** a data generator.

Like any kind added with :func:`skteam.llm.registry.register_backend_kind`,
the registration is per process: worker processes (joblib's ``loky``
backend) must import this module too, e.g. with
``parallel_backend("loky", initializer=importlib.import_module,
initargs=("skteam.testing",))``.
"""

from __future__ import annotations

import threading

from .llm.base import Usage
from .llm.embedded import embedded_model_path
from .llm.hf import HFBackend, load_tokenizer
from .llm.registry import register_backend_kind

__all__ = ["UniformGrammarBackend", "make_test_backend"]


class UniformGrammarBackend(HFBackend):
    """Test double: uniform sampling under the grammar, no model weights."""

    def __init__(self):
        path = embedded_model_path()
        self.path = path
        self.device = "cpu"
        self.dtype = "float32"
        self.name = "test::uniform"
        self.usage = Usage()
        self._lock = threading.Lock()
        self.tokenizer = load_tokenizer(path)
        self.model = None
        self.context_length = 8192
        self._ll_tokenizer = None
        self._grammar_cache = {}

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    @property
    def eos_token_ids(self) -> set:
        return {self.tokenizer.eos_token_id}

    def _new_cache(self):
        return _NullCache()

    def _forward(self, input_ids, attention, position, cache):
        import torch

        return torch.zeros((input_ids.shape[0], self.vocab_size))


class _NullCache:
    """Stands in for a KV cache: there is no model state to keep."""

    def batch_repeat_interleave(self, repeats):
        pass

    def batch_select_indices(self, indices):
        pass


def make_test_backend(target: str):
    """Build the test double named by ``model="test::<target>"``."""
    if target != "uniform":
        raise ValueError(
            f"Unknown test backend 'test::{target}'; the only one is 'test::uniform'."
        )
    return UniformGrammarBackend()


register_backend_kind("test", make_test_backend)
