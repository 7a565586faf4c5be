"""Checks of user input shared by the sampler, the QC and the command line.

Every error says which argument, which value, and what to pass instead.
"""

from __future__ import annotations

import numbers
import os
import re
import warnings
from collections import Counter

import numpy as np
import pandas as pd

from ..schema import LABEL_SUFFIX, _python

_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def column_names(columns) -> list:
    """Column names as text: strings as they are, integers as their digits.

    Raises TypeError for other or mixed name types and ValueError for names
    that are equal as text.
    """
    names = list(columns)
    is_int = [isinstance(c, numbers.Integral) and not isinstance(c, (bool, np.bool_))
              for c in names]
    is_str = [isinstance(c, str) for c in names]
    if not (all(is_str) or all(is_int)):
        bad = [c for c, s in zip(names, is_str) if not s]
        kinds = sorted({type(c).__name__ for c in names})
        raise TypeError(
            f"X has column names of types {kinds}: {bad[:5]!r} are not strings. "
            "Column names must be all strings (they appear in prompts) or all "
            "integers (read as their text, as array columns are); rename them, "
            "e.g. X.columns = X.columns.astype(str)."
        )
    text = [str(c) for c in names]
    dup = sorted(t for t, n in Counter(text).items() if n > 1)
    if dup:
        raise ValueError(
            f"X has duplicate column names {dup}; every column needs its own name. "
            "Rename them, e.g. X.columns = [...] with distinct names."
        )
    return text


def text_keys(mapping, names):
    """``feature_descriptions`` with integer keys read as the text column names."""
    if not mapping:
        return mapping
    names = set(names)
    return {str(k) if (isinstance(k, numbers.Integral) and not isinstance(k, bool)
                       and k not in names and str(k) in names) else k: v
            for k, v in mapping.items()}


def check_labels(X, y, sampling_strategy) -> None:
    """Checks of ``y`` (and X's size) with messages that say what to pass.

    They run before imbalanced-learn's own checks, whose messages for these
    cases are terse or come from deep inside numpy.
    """
    if isinstance(y, pd.DataFrame):
        arr = y.to_numpy()
    elif isinstance(y, (list, tuple)):
        arr = np.asarray(y, dtype=object)  # keeps each label's own type
    else:
        arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
    if arr.ndim != 1:
        return  # imbalanced-learn explains multilabel and multioutput targets
    n_y = len(arr)
    shape = getattr(X, "shape", None)
    if shape is None:
        try:
            shape = (len(X), len(X[0]) if len(X) else 0)
        except TypeError:
            shape = None
    if n_y == 0 or (shape is not None and (shape[0] == 0 or (
            len(shape) > 1 and shape[1] == 0))):
        raise ValueError(
            f"X and y are empty (X shape {shape}, {n_y} labels); pass at least one "
            "feature column and rows of at least two classes."
        )
    if shape is not None and shape[0] != n_y:
        raise ValueError(f"X has {shape[0]} rows but y has {n_y} labels; pass one "
                         "label per row.")
    missing = np.flatnonzero(np.asarray(pd.isna(arr), dtype=bool))
    if len(missing):
        raise ValueError(
            f"y has {len(missing)} missing label(s) (NaN or None), e.g. at row "
            f"{int(missing[0])}; every row needs a class. Drop those rows from X "
            "and y (keep = pd.notna(y); X, y = X[keep], y[keep]) or fill them in."
        )
    if arr.dtype == object:
        kinds = {type(v.item() if isinstance(v, np.generic) else v).__name__
                 for v in arr}
        scalar = {"str", "int", "float", "bool"}
        numbers_only = kinds <= {"int", "float"}
        if not kinds <= scalar or (len(kinds) > 1 and not numbers_only):
            raise ValueError(
                f"y mixes label types {sorted(kinds)}; class labels must be of one "
                "type (all strings, all numbers or all booleans). Convert them, "
                "e.g. y = y.astype(str)."
            )
    try:
        classes = np.unique(arr)
    except TypeError:
        return
    if len(classes) == 1:
        c = classes[0]
        c = _python(c)
        raise ValueError(
            f"y has a single class ({c!r}): there is no minority class to "
            "over-sample. Pass rows of at least two classes."
        )
    if isinstance(sampling_strategy, dict):
        known = [_python(c) for c in classes]
        unknown = [k for k in sampling_strategy if k not in set(known)]
        if unknown:
            raise ValueError(
                f"sampling_strategy names class(es) {unknown!r} that y does not "
                f"have; the classes of y are {known!r}. Key the dict by those "
                f"classes, e.g. sampling_strategy={{{known[-1]!r}: 100}}."
            )


def check_not_bool(**values) -> None:
    """ValueError for a boolean passed where a whole number is expected."""
    for name, value in values.items():
        if isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name}={value!r} is a boolean; pass a whole "
                             "number (e.g. batch_size=10).")


def check_n_jobs(n_jobs) -> None:
    """ValueError unless ``n_jobs`` is None or a non-zero int (joblib's meaning)."""
    if n_jobs is not None and (not isinstance(n_jobs, numbers.Integral)
                               or isinstance(n_jobs, (bool, np.bool_)) or n_jobs == 0):
        raise ValueError(f"n_jobs={n_jobs!r} is not a number of worker processes; "
                         "pass None or 1 (no workers), a positive count, or -1 "
                         "(all cores).")


def check_device(device: str) -> str:
    """``device`` unless it is no device skteam can use."""
    if not _DEVICE.fullmatch(device):
        raise ValueError(
            f"device={device!r} is not a device skteam can use; pass "
            "'auto', 'cpu', 'cuda' or 'cuda:<index>'."
        )
    return device


def check_fitted_sampler(sampler, *attrs, what: str) -> None:
    """ValueError naming the fitted attributes that ``sampler`` lacks.

    ``what`` names the caller in the message (``"A report"``).
    """
    missing = [a for a in attrs if not hasattr(sampler, a)]
    if missing:
        raise ValueError(
            f"{what} needs a fitted sampler, but this one has no "
            f"{', '.join(missing)}: call fit_resample(X, y) first."
        )


def check_cache_dir(cache_dir) -> None:
    """ValueError when ``cache_dir`` names an existing file."""
    if cache_dir is not None and os.path.exists(cache_dir) and (
            not os.path.isdir(cache_dir)):
        raise ValueError(
            f"cache_dir={str(cache_dir)!r} exists and is not a directory; "
            "pass a directory path (it is created if missing) or None."
        )


def target_name(y):
    """The label's name as prompts call it (None when ``y`` has none)."""
    name = getattr(y, "name", None)
    return None if name is None else " ".join(str(name).split()) or None


def warn_label_in_columns(name, columns, stacklevel: int = 3) -> bool:
    """Warn when ``y``'s name is also a column of ``X``.

    Such a column is often the label left in ``X`` by mistake: the sampler
    would copy it into the generated rows and the downstream model would read
    it. Prompts keep the two apart either way
    (:meth:`skteam.schema.Schema.infer` calls the label ``"<name> (label)"``).

    Parameters
    ----------
    name : str or None
        :func:`target_name` of ``y``.
    columns : sequence
        The columns of ``X``.
    stacklevel : int, default=3
        Of the warning.

    Returns
    -------
    warned : bool
    """
    if name is None or name not in {str(c) for c in columns}:
        return False
    warnings.warn(
        f"X has a column {name!r}, the name of y. If it holds the label, drop "
        f"it from X (X.drop(columns={name!r})): the sampler would copy the "
        "label into the generated rows and the downstream model would read "
        f"it. Prompts call the label {name + LABEL_SUFFIX!r}.",
        UserWarning, stacklevel=stacklevel)
    return True


def check_dense_2d(X):
    """``X`` as a frame (its column names checked) or a 2-D ndarray; no sparse.

    Parameters
    ----------
    X : DataFrame, array-like or sparse matrix

    Returns
    -------
    X : DataFrame or ndarray
        A frame unchanged, anything else as an ndarray.
    """
    if type(X).__module__.startswith("scipy.sparse"):
        raise TypeError("TeamTrimSampler needs dense data: the language model "
                        "writes cells as text. Convert a sparse matrix with "
                        "X.toarray().")
    if isinstance(X, pd.DataFrame):
        column_names(X.columns)
        return X
    X = np.asarray(X) if not isinstance(X, np.ndarray) else X
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional (n_samples, n_features); "
                         f"got shape {X.shape}.")
    return X


#: Fewest rows at which a column with a different value in every row is
#: taken for an identifier (:func:`warn_identifier_columns`).
IDENTIFIER_MIN_ROWS = 10


def _numbers_rows(spec, column, n_rows: int) -> bool:
    """Whether an integer column numbers the rows: ``k, k+1, ..., k+n-1``."""
    return (spec.kind == "numeric" and spec.integer
            and spec.observed_min is not None
            and spec.observed_max - spec.observed_min + 1 == n_rows
            and column.nunique() == n_rows)


def warn_identifier_columns(schema, n_rows: int, stacklevel: int = 3, X=None) -> list:
    """Warn about columns that identify rows instead of describing them.

    A categorical column with a different value in every row (row names,
    IDs, people's names) and, when ``X`` is given, an integer column whose
    values are the consecutive numbers ``k, ..., k + n_rows - 1`` (a row
    number or an index written out as a column) say which row a row is, not
    what it is: a generated row can only repeat a training row's value
    there (categorical) or take a number of the same range (numeric), and
    a downstream model learns nothing true from it. Checked from
    ``IDENTIFIER_MIN_ROWS`` rows on.

    Parameters
    ----------
    schema : Schema
        The training rows' schema.
    n_rows : int
        Rows of the training table.
    stacklevel : int, default=3
        Of the warning.
    X : DataFrame or None, default=None
        The training rows, with the schema's feature names as columns;
        needed to tell row numbers from other integer columns.

    Returns
    -------
    names : list of str
        The columns warned about.
    """
    if n_rows < IDENTIFIER_MIN_ROWS:
        return []
    names = [s.name for s in schema.features
             if (s.kind == "categorical" and len(s.categories) == n_rows)
             or (X is not None and s.name in X.columns
                 and _numbers_rows(s, X[s.name], n_rows))]
    if names:
        warnings.warn(
            f"Column(s) {names!r} hold a different value in each of the {n_rows} "
            "rows, like an identifier (row names, IDs, row numbers): a generated "
            "row can only repeat or imitate a training row's value there. If "
            f"they identify rows, drop them before resampling "
            f"(X.drop(columns={names!r})).",
            UserWarning, stacklevel=stacklevel)
    return names
