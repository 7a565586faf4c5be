"""Frames in and out: what the sampler reads as rows and how it hands them back."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import Schema, array_column_names
from ._validation import column_names, text_keys


def as_text_frame(X):
    """``X`` as a DataFrame with text column names, and the names to give back.

    Array columns are named ``"0", "1", …`` (their position as text), so
    that an array and the same data as a DataFrame with those names give
    equal rows; integer column names of a frame are read as their text.
    Sparse frame columns are made dense.

    Returns
    -------
    X_df : pandas.DataFrame
        A new frame with a fresh ``RangeIndex``; ``X`` is not changed.
    out_columns : Index or None
        The frame's own column names, or None for an array.
    """
    if isinstance(X, pd.DataFrame):
        X_df = densify(X).reset_index(drop=True)
        return X_df.set_axis(column_names(X_df.columns), axis=1), X_df.columns
    X = np.asarray(X)
    return pd.DataFrame(X, columns=array_column_names(X.shape[1])), None


def training_schema(X_df, y, *, feature_descriptions=None, dataset_description=None,
                    target=None) -> Schema:
    """The schema of the training rows, as every fit and ``skteam plan`` infer it.

    Parameters
    ----------
    X_df : pandas.DataFrame
        The training rows with text column names (:func:`as_text_frame`).
    y : array-like
        Their labels.
    feature_descriptions : dict, default=None
        Column -> meaning; integer keys stand for the text names.
    dataset_description : str, default=None
    target : str, default=None
        The label's name in prompts (:func:`~skteam.utils._validation.target_name`).

    Returns
    -------
    schema : Schema
    """
    return Schema.infer(
        X_df, np.asarray(y), descriptions=text_keys(feature_descriptions, X_df.columns),
        dataset_description=dataset_description, target=target)


def densify(X: pd.DataFrame) -> pd.DataFrame:
    """Dense copy of a DataFrame with sparse columns (the output is re-sparsified)."""
    sparse = [c for c in X.columns if isinstance(X[c].dtype, pd.SparseDtype)]
    if not sparse:
        return X
    X = X.copy()
    for c in sparse:
        X[c] = X[c].sparse.to_dense()
    return X


def restore_dtypes(new: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Give generated rows the dtypes of the training frame."""
    out = {}
    for col in like.columns:
        dtype = like[col].dtype
        try:
            out[col] = new[col].astype(dtype)
        except (TypeError, ValueError):
            out[col] = new[col]
    return pd.DataFrame(out, index=new.index)


def to_array(X_res: pd.DataFrame, X_in) -> np.ndarray:
    dtype = X_in.dtype if isinstance(X_in, np.ndarray) else None
    return X_res.to_numpy(dtype=dtype)
