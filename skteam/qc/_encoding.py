"""Numeric encoding of schema columns for the QC models, and frame helpers.

The diversity stage clusters *standardised* rows (numeric columns scaled,
categorical columns one-hot encoded over the schema's categories). The cost
stage uses the same encoding in front of the user's estimator when the table
has categorical columns; when every column is numeric the estimator sees the
columns as given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ..schema import Schema


def make_encoder(schema: Schema) -> ColumnTransformer:
    """Build an (unfitted) encoder for the columns of ``schema``.

    Numeric columns go through :class:`~sklearn.preprocessing.StandardScaler`;
    categorical columns through
    :class:`~sklearn.preprocessing.OneHotEncoder` with the schema's
    categories and ``handle_unknown="ignore"`` (an unseen category encodes as
    all zeros instead of raising). Columns keep the schema's order within
    each block: numeric first, then the one-hot blocks.

    Parameters
    ----------
    schema : Schema

    Returns
    -------
    encoder : ColumnTransformer
        Dense output (``sparse_threshold=0``).

    Examples
    --------
    >>> import pandas as pd
    >>> from skteam import Schema
    >>> from skteam.qc._encoding import make_encoder
    >>> X = pd.DataFrame({"age": [30, 40, 50], "sex": ["F", "M", "F"]})
    >>> make_encoder(Schema.infer(X)).fit_transform(X).shape
    (3, 3)
    """
    cats = [f for f in schema.features if f.kind == "categorical"]
    nums = [f.name for f in schema.features if f.kind != "categorical"]
    parts = []
    if nums:
        parts.append(("num", StandardScaler(), nums))
    if cats:
        parts.append((
            "cat",
            OneHotEncoder(categories=[list(f.categories) for f in cats],
                          handle_unknown="ignore", sparse_output=False),
            [f.name for f in cats],
        ))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0)


def needs_encoding(schema: Schema) -> bool:
    """True when some column is categorical (an estimator cannot take it as is)."""
    return any(f.kind == "categorical" for f in schema.features)


def _objecty(X) -> bool:
    arr = np.asarray(X)
    return arr.dtype == object or arr.dtype.kind in "US"


def as_frame(X, schema: Schema, *, what: str = "X") -> pd.DataFrame:
    """``X`` as a DataFrame with the schema's columns, in the schema's order.

    A DataFrame is selected by column name (extra columns are ignored, a
    missing one is an error); an array's columns are taken by position. The
    input is never modified (a new frame is returned).
    """
    names = schema.names
    if isinstance(X, pd.DataFrame):
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise ValueError(
                f"{what} lacks the columns {missing} of the schema; pass a frame "
                f"with the columns {names} (the columns QC was fitted on)."
            )
        return X.loc[:, names].reset_index(drop=True)
    arr = np.asarray(X, dtype=object if _objecty(X) else None)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, len(names))
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise ValueError(
            f"{what} has shape {arr.shape}; expected 2-D rows with {len(names)} "
            f"columns in the order {names}."
        )
    frame = pd.DataFrame(arr, columns=names)
    if arr.dtype == object:
        frame = frame.infer_objects()
    return frame

