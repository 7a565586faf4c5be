"""skteam's exceptions, and the notes it adds to errors raised during a fit."""

from __future__ import annotations

from .schema import _python


class ShortfallError(ValueError):
    """A class quota was not met within ``max_batches``.

    Raised with ``on_shortfall="raise"``, and with ``"fill"`` when even the
    QC-rejected rows that passed the sanity stage are too few.

    Attributes
    ----------
    qc_report : pandas.DataFrame
        The sampler's ``qc_report_``: every batch read before giving up.
    got : dict
        Class -> rows accepted for it.
    """

    def __init__(self, message, qc_report, got):
        super().__init__(message)
        self.qc_report = qc_report
        self.got = got


def note_generation_error(exc, target, index, n_done):
    """Say where generation stopped, on the exception itself (it keeps its type).

    ``target`` is None for the task manager's call (before any batch).
    """
    if not hasattr(exc, "add_note"):  # Python < 3.11
        return
    if target is None:
        exc.add_note("skteam: raised during the task manager's call, before any "
                     "batch was generated; qc_report_ is empty.")
    else:
        exc.add_note(
            f"skteam: raised while generating batch {index} of class "
            f"{_python(target)!r}; qc_report_ holds the {n_done} batch(es) read "
            "before it, and no part of the failed chunk was cached."
        )
    if _out_of_memory(exc):
        exc.add_note(
            "skteam: the model ran out of memory; lower batch_size or n_examples "
            "(fewer rows and shorter prompts per forward pass), or pass device='cpu'."
        )


def _out_of_memory(exc) -> bool:
    """True for MemoryError, torch's OutOfMemoryError and CUDA/MPS OOM errors."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def attach_report(exc, report) -> None:
    """Give a generation error the ``qc_report_`` read so far, as ``exc.qc_report``.

    The attribute has the name :class:`ShortfallError` uses; an exception
    that already has one (or takes no attributes) is left as it is.
    """
    if getattr(exc, "qc_report", None) is None:
        try:
            exc.qc_report = report
        except AttributeError:
            pass
