"""Shared fixtures.

``embedded_backend`` loads the real bundled model once per test session.
``uniform_backend`` is the grammar-only test double (``model="test::uniform"``)
for tests where the model is not the subject; importing :mod:`skteam.testing`
here registers it for every test.
"""

import os

import pytest

import skteam.testing  # noqa: F401  (registers model="test::uniform")

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def embedded_backend():
    from skteam.llm import get_backend

    return get_backend("embedded")


@pytest.fixture(scope="session")
def uniform_backend():
    from skteam.llm import get_backend

    return get_backend("test::uniform")
