"""Batched backend calls shared by the workers and the label worker."""

from __future__ import annotations

# Prompts sent in one backend call at most.
MAX_PROMPTS_PER_CALL = 64


def check_answers(backend, prompts_sent, texts) -> None:
    """RuntimeError unless a backend answered every prompt with a text."""
    if (not isinstance(texts, (list, tuple)) or len(texts) != len(prompts_sent)
            or not all(isinstance(t, str) for t in texts)):
        got = len(texts) if isinstance(texts, (list, tuple)) else type(texts).__name__
        raise RuntimeError(
            f"The backend {getattr(backend, 'name', type(backend).__name__)!r} "
            f"answered {len(prompts_sent)} prompts with {got} texts; "
            "Backend.generate must return one string per prompt."
        )


def chunks(n: int, size: int):
    """Slices of ``range(n)`` of at most ``size`` items each."""
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))
