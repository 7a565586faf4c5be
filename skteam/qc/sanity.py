"""QC stage 1: sanity check (paper §2.2, "Sanity check").

Every generated row must satisfy the schema (types, the numeric bounds
``l_i <= x <= u_i``, integer-ness, membership of categorical values in the
seen categories, i.e. the paper's ``sum_j x_{l,j} = 1``) and every user
constraint (the paper's disjunctions of linear inequalities over numeric
values and category indicators). A row violating any rule is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..constraints import ConstraintSet
from ..schema import Schema
from ._encoding import as_frame


@dataclass
class SanityResult:
    """Outcome of the sanity check of one batch.

    Attributes
    ----------
    keep : ndarray of bool, shape (n_rows,)
        Rows that pass every rule.
    dropped_by_rule : dict of str to int
        Rule -> number of rows failing it, for the rules that some row
        fails. A row failing several rules counts for each of them, so the
        counts may add up to more than ``(~keep).sum()``. Rules are
        ``"type:<col>"``, ``"range:<col>"``, ``"integer:<col>"``,
        ``"category:<col>"`` and the text of each user constraint.
    """

    keep: np.ndarray
    dropped_by_rule: dict = field(default_factory=dict)

    @property
    def n_dropped(self) -> int:
        """Rows dropped (each row once)."""
        return int((~self.keep).sum())


def sanity_check(X_batch, schema: Schema, constraints=None) -> SanityResult:
    """Drop rows with illegal types, values or constraint violations.

    Parameters
    ----------
    X_batch : DataFrame or array-like of shape (n_rows, n_features)
        The generated rows. A frame is matched by column name, an array by
        position (the schema's column order).
    schema : Schema
        Column kinds, bounds, integer-ness and categories.
    constraints : ConstraintSet, list of str or None, default=None
        User constraints such as ``"priors_count >= juv_fel_count"``;
        strings are parsed against ``schema``.

    Returns
    -------
    result : SanityResult

    Examples
    --------
    >>> import pandas as pd
    >>> from skteam import Schema
    >>> from skteam.qc import sanity_check
    >>> X = pd.DataFrame({"a": [1, 5, 9], "b": [2, 6, 9]})
    >>> schema = Schema.infer(X, margin=0)
    >>> batch = pd.DataFrame({"a": [2, 5, 20], "b": [3, 4, 9]})
    >>> res = sanity_check(batch, schema, ["a <= b"])
    >>> res.keep.tolist(), res.dropped_by_rule
    ([True, False, False], {'range:a': 1, 'a <= b': 2})
    """
    X = as_frame(X_batch, schema, what="X_batch")
    if constraints is not None and not isinstance(constraints, ConstraintSet):
        constraints = ConstraintSet(constraints, schema)
    masks = dict(schema.check_frame(X))
    if constraints is not None:
        masks.update(constraints.evaluate(X))
    keep = np.ones(len(X), dtype=bool)
    dropped = {}
    for rule, ok in masks.items():
        ok = np.asarray(ok, dtype=bool)
        keep &= ok
        n_bad = int((~ok).sum())
        if n_bad:
            dropped[rule] = n_bad
    return SanityResult(keep, dropped)


#: The sanity rule that ``TrimQC(copies="drop")`` adds.
COPY_RULE = "copy of a training row"


def row_keys(X) -> list:
    """One hashable key per row of a frame: its values, floats to 9 digits."""
    values = [np.round(col.to_numpy(dtype=float), 9) if col.dtype.kind in "biufc"
              else col.astype(str).to_numpy() for _, col in X.items()]
    return list(zip(*values)) if values else [()] * len(X)


def drop_copies(result: SanityResult, keys, training_keys) -> SanityResult:
    """``result`` with the rows whose key is a training row's dropped as well."""
    copy = np.array([k in training_keys for k in keys], dtype=bool)
    dropped = dict(result.dropped_by_rule)
    if copy.any():
        dropped[COPY_RULE] = int(copy.sum())
    return SanityResult(result.keep & ~copy, dropped)
