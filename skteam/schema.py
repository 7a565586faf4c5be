"""Column schema: kinds, integer-ness, bounds, categories and descriptions.

Every generated cell is decoded under a grammar built from this schema, so
the schema decides what a legal value is. :meth:`Schema.infer` reads it off
the training data; :meth:`Schema.check_frame` checks generated rows against
it; :func:`format_value` and :func:`parse_value` convert single cells to and
from the text the language model reads and writes.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["FeatureSpec", "Schema", "format_value", "parse_value"]

KINDS = ("numeric", "categorical")
#: What prompts call an unnamed label (as imbalanced-learn names it).
DEFAULT_TARGET = "class"
#: Appended to a label's name in prompts when a feature has that name.
LABEL_SUFFIX = " (label)"
MAX_DECIMALS = 4
#: The most decimals a number cell may have: llguidance's JSON schema refuses
#: a ``multipleOf`` finer than 1e-10.
MAX_GRAMMAR_DECIMALS = 10
#: The smallest largest-absolute-value a non-integer column may have: below
#: it, ``MAX_GRAMMAR_DECIMALS`` decimals hold fewer than 2 significant digits.
MIN_COLUMN_MAGNITUDE = 1e-8
_TOL = 1e-9
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# Python types a category or class may have, by the name recorded in to_dict.
_SCALAR_TYPES = {"str": str, "int": int, "float": float, "bool": bool}
_NUMERIC_FIELDS = ("integer", "low", "high", "decimals", "observed_min",
                   "observed_max")


@dataclass(frozen=True)
class FeatureSpec:
    """One column of the schema.

    Attributes
    ----------
    name : str
        The column name, as it appears in prompts.
    kind : {"numeric", "categorical"}
        How values are generated.
    integer : bool, default=False
        Numeric only: every value is a whole number.
    low, high : float or None, default=None
        Numeric only: the legal range of generated values (ints for integer
        columns).
    decimals : int, default=0
        Numeric only: decimals written and generated (0 for integers).
    categories : tuple, default=()
        Categorical only: the legal values, in their original python types
        (``str``, ``int``, ``float`` or ``bool``).
    dtype : str, default=""
        The column's original dtype, e.g. ``"int64"`` or ``"category"``.
    description : str or None, default=None
        The user's description, shown to the language model.
    observed_min, observed_max : float or None, default=None
        Numeric only: the range seen in the training data.
    """

    name: str
    kind: str
    integer: bool = False
    low: float | None = None
    high: float | None = None
    decimals: int = 0
    categories: tuple = ()
    dtype: str = ""
    description: str | None = None
    observed_min: float | None = None
    observed_max: float | None = None

    @property
    def step(self) -> float:
        """The smallest difference between two written values of a numeric
        column: 1 for an integer column, ``1e-decimals`` otherwise (written
        as ``float("1e-N")``, the literal a grammar's ``multipleOf`` takes)."""
        return _step(self.integer, self.decimals)


def _step(integer: bool, decimals: int) -> float:
    """:attr:`FeatureSpec.step` of a column written with these settings."""
    return 1.0 if integer else float(f"1e-{int(decimals)}")


# -- small helpers -------------------------------------------------------------


def _python(value):
    """A numpy scalar as the equivalent python scalar; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def _value_kind(value) -> str:
    """"str", "bool", "number" or the type name of an unsupported value."""
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, str):
        return "str"
    if isinstance(value, numbers.Real):
        return "number"
    return type(value).__name__


def _common_kind(name, values) -> str:
    """The single value kind of ``values``; ValueError naming the column if mixed."""
    kinds = {_value_kind(v) for v in values}
    if len(kinds) == 1 and kinds <= {"str", "bool", "number"}:
        return kinds.pop()
    found = sorted({type(v).__name__ for v in values})
    if len(found) > 1:
        problem = f"mixes value types {found}"
    else:
        problem = f"holds values of type {found[0]}, which skteam cannot generate"
    raise ValueError(
        f"Column {name!r} {problem}; skteam needs one type per column (strings, "
        f"booleans or numbers). Cast it, e.g. X[{name!r}] = X[{name!r}].astype(str) "
        "to treat it as categorical."
    )


def _sorted_categories(values) -> tuple:
    """Distinct values of one kind, sorted (text alphabetically, numbers by value)."""
    return tuple(sorted({_python(v) for v in values}))


def _peak(values: np.ndarray) -> float:
    """The largest absolute value of a column (0 for an empty one)."""
    return float(np.max(np.abs(values))) if len(values) else 0.0


def _decimals(values: np.ndarray) -> int:
    """Decimals needed to write every value (at least 1, at most the column's cap).

    The cap is ``MAX_DECIMALS`` significant decimals after the leading zeros
    of the column's largest absolute value: ``MAX_DECIMALS`` for a column
    that reaches 0.1 or more, one more per leading zero below that (a column
    of values around 2e-6 gets up to 9 decimals, ``0.000002325``), so a
    column of small magnitudes is not rounded to zero; never more than
    ``MAX_GRAMMAR_DECIMALS``.
    """
    peak = _peak(values)
    extra = 0 if peak >= 0.1 or peak == 0 else -math.floor(math.log10(peak)) - 1
    extra = min(extra, MAX_GRAMMAR_DECIMALS - MAX_DECIMALS)
    unit = 10.0 ** -extra
    tol = _TOL * np.maximum(unit, np.abs(values))
    for d in range(1, MAX_DECIMALS + extra + 1):
        if np.all(np.abs(np.round(values, d) - values) <= tol):
            return d
    return MAX_DECIMALS + extra


def _widen(mn, mx, margin, integer, decimals):
    """Observed range widened by ``margin`` x span, rounded outward.

    A column with one observed value keeps it: there is no span to widen,
    and any other value is one the data never showed.
    """
    if mx == mn:
        return (int(mn), int(mx)) if integer else (float(mn), float(mx))
    span = mx - mn
    low, high = mn - margin * span, mx + margin * span
    # The slack keeps float noise (e.g. 11.000000000000002) from adding a step.
    slack_low, slack_high = _TOL * max(1.0, abs(low)), _TOL * max(1.0, abs(high))
    if integer:
        # Integers widen by a whole number of steps, rounded to nearest, so a
        # 0/1 column stays 0/1 and a count column stays a count.
        step = round(margin * span)
        low, high = math.floor(mn) - step, math.ceil(mx) + step
    else:
        scale = 10.0**decimals
        low = round(math.floor(low * scale + slack_low) / scale, decimals)
        high = round(math.ceil(high * scale - slack_high) / scale, decimals)
    if mn >= 0:
        low = max(low, 0)
        if not integer and mx <= 1:
            # a share or a probability: widening past 1 writes impossible
            # values, and a leading "1" is a likely token for a small model
            high = min(high, 1.0)
    if mx <= 0:
        # a column without positive values keeps its sign: a small model
        # drops minus signs, and writes a positive value (a bound above 0)
        # or 0 (a bound at 0) in their place
        high = min(high, 0 if mx == 0 else -_step(integer, decimals))
    return (int(low), int(high)) if integer else (float(low), float(high))


def _numeric_spec(name, values: np.ndarray, dtype: str, margin: float) -> FeatureSpec:
    values = np.asarray(values, dtype=float)
    integer = bool(np.all(values == np.round(values)))
    peak = _peak(values)
    if not integer and 0 < peak < MIN_COLUMN_MAGNITUDE:
        raise ValueError(
            f"Column {name!r} has values no larger than {peak:.3g} in absolute "
            f"value; skteam writes numbers with at most {MAX_GRAMMAR_DECIMALS} "
            "decimals, which would round them to 0. Rescale the column (e.g. "
            f"X[{name!r}] * 1e{-math.floor(math.log10(peak))}) and scale the "
            "generated rows back.")
    decimals = 0 if integer else _decimals(values)
    mn, mx = float(values.min()), float(values.max())
    low, high = _widen(mn, mx, margin, integer, decimals)
    return FeatureSpec(name, "numeric", integer=integer, low=low, high=high,
                       decimals=decimals, dtype=dtype, observed_min=mn,
                       observed_max=mx)


def _is_numeric_dtype(dtype) -> bool:
    return (pd.api.types.is_numeric_dtype(dtype)
            and not pd.api.types.is_bool_dtype(dtype)
            and not pd.api.types.is_complex_dtype(dtype))


def _is_supported_dtype(dtype) -> bool:
    return (isinstance(dtype, pd.CategoricalDtype)
            or pd.api.types.is_bool_dtype(dtype)
            or _is_numeric_dtype(dtype)
            or pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype))


def _count_incomplete(col: pd.Series) -> tuple[int, int]:
    """Numbers of missing and of infinite values in a column."""
    n_missing = int(col.isna().sum())
    if _is_numeric_dtype(col.dtype):
        values = col.to_numpy(dtype=float, na_value=np.nan)
        n_inf = int(np.isinf(values).sum())
    elif pd.api.types.is_object_dtype(col.dtype):
        n_inf = sum(1 for v in col.tolist() if _value_kind(v) == "number"
                    and math.isinf(v))
    else:
        n_inf = 0
    return n_missing, n_inf


def _check_complete(frame: pd.DataFrame) -> None:
    """ValueError for unsupported dtypes, then for missing or infinite values."""
    problems = []
    for name in frame.columns:
        col = frame[name]
        if not _is_supported_dtype(col.dtype):
            raise ValueError(
                f"Column {name!r} has dtype {col.dtype}, which skteam cannot "
                "generate. Convert it to numbers (e.g. days since a reference date: "
                f"(X[{name!r}] - X[{name!r}].min()).dt.days) or to strings "
                f"(X[{name!r}].astype(str), a categorical column)."
            )
        n_missing, n_inf = _count_incomplete(col)
        parts = [f"{n} {what}" for n, what in ((n_missing, "missing"),
                                               (n_inf, "infinite")) if n]
        if parts:
            problems.append(f"{name!r} ({' and '.join(parts)})")
    if problems:
        raise ValueError(
            f"X has missing or infinite values in column(s) {', '.join(problems)}; "
            "skteam needs complete data. Impute them (e.g. with "
            "sklearn.impute.SimpleImputer) or drop those rows (X.dropna())."
        )


def _infer_column(name, col: pd.Series, margin: float) -> FeatureSpec:
    """Spec of one complete column of a supported dtype."""
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        seen = set(col.tolist())
        cats = tuple(_python(c) for c in dtype.categories if c in seen)
        _common_kind(name, cats)
        return FeatureSpec(name, "categorical", categories=cats, dtype="category")
    if pd.api.types.is_bool_dtype(dtype):
        seen = set(col.tolist())
        cats = tuple(v for v in (False, True) if v in seen)
        return FeatureSpec(name, "categorical", categories=cats, dtype=str(dtype))
    if _is_numeric_dtype(dtype):
        return _numeric_spec(name, col.to_numpy(dtype=float), str(dtype), margin)
    values = [_python(v) for v in col.tolist()]
    if _common_kind(name, values) == "number":
        return _numeric_spec(name, np.asarray(values, dtype=float), str(dtype),
                             margin)
    return FeatureSpec(name, "categorical", categories=_sorted_categories(values),
                       dtype=str(dtype))


def _check_column_names(columns) -> None:
    names = list(columns)
    bad = [c for c in names if not isinstance(c, str)]
    if bad:
        raise ValueError(
            f"Column names must be strings (they appear in prompts); got {bad!r}. "
            "Rename the columns, e.g. X.columns = [str(c) for c in X.columns]."
        )
    dup = sorted(c for c, n in Counter(names).items() if n > 1)
    if dup:
        raise ValueError(
            f"Duplicate column names {dup}; every column needs its own name. "
            "Rename them, e.g. X.columns = [...] with distinct names."
        )


def array_column_names(n_features: int) -> list:
    """The names skteam gives the columns of an array: ``"0", "1", …``.

    A DataFrame with integer column names reads them as the same text, so an
    array and that frame are the same table to every part of skteam.
    """
    return [str(i) for i in range(n_features)]


def _as_frame(X) -> pd.DataFrame:
    """X as a DataFrame; arrays and lists get the columns "0", "1", ..."""
    if isinstance(X, pd.DataFrame):
        _check_column_names(X.columns)
        return X
    if isinstance(X, pd.Series):
        raise ValueError("X is a pandas Series (one column); pass a DataFrame, "
                         "e.g. X.to_frame().")
    if hasattr(X, "toarray"):
        raise ValueError("X is a sparse matrix; skteam needs dense data, pass "
                         "X.toarray().")
    if isinstance(X, np.ndarray):
        arr = X.astype(object) if X.dtype.kind in "USO" else X
    else:
        try:
            arr = np.asarray(X, dtype=object)
        except ValueError:
            arr = None
    if arr is not None and arr.size == 0:
        raise ValueError(f"X is empty (shape {arr.shape}); pass at least one row "
                         "and one column.")
    if arr is None or arr.ndim != 2:
        shape = "ragged" if arr is None else f"shape {arr.shape}"
        raise ValueError(
            f"X must be 2-dimensional (rows x columns); got {shape}. Pass a "
            "DataFrame, a 2-D array or a list of equally long rows."
        )
    frame = pd.DataFrame(arr, columns=array_column_names(arr.shape[1]))
    # Lists and object arrays: each column gets its own dtype (int, float, bool).
    return frame.infer_objects() if arr.dtype == object else frame


def _infer_classes(y, n_rows: int) -> tuple:
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-dimensional; got shape {arr.shape}.")
    if len(arr) != n_rows:
        raise ValueError(f"X has {n_rows} rows but y has {len(arr)} labels.")
    n_missing = int(np.asarray(pd.isna(arr)).sum())
    if n_missing:
        raise ValueError(f"y has {n_missing} missing label(s); drop those rows "
                         "from X and y first.")
    if arr.dtype == object:
        kinds = {_value_kind(_python(v)) for v in arr}
        if len(kinds) > 1 or not kinds <= {"str", "bool", "number"}:
            found = sorted({type(_python(v)).__name__ for v in arr})
            raise ValueError(f"y mixes label types {found}; use one type, e.g. "
                             "y = y.astype(str).")
    return tuple(_python(c) for c in np.unique(arr))


def _check_descriptions(descriptions, names) -> dict:
    descriptions = dict(descriptions or {})
    unknown = [k for k in descriptions if k not in names]
    if unknown:
        raise ValueError(
            f"descriptions name unknown column(s) {unknown}; known columns: {names}."
        )
    for key, text in descriptions.items():
        if text is not None and not isinstance(text, str):
            raise TypeError(f"The description of {key!r} must be a string; got "
                            f"{type(text).__name__}.")
    return descriptions


# -- overrides -----------------------------------------------------------------


def _switch_kind(spec: FeatureSpec, kind: str, col: pd.Series, margin):
    """Re-infer a column as the other kind, from its data."""
    if kind == "categorical":
        values = [_python(v) for v in col.tolist()]
        _common_kind(spec.name, values)
        return FeatureSpec(spec.name, "categorical",
                           categories=_sorted_categories(values), dtype=spec.dtype,
                           description=spec.description)
    as_numbers = pd.to_numeric(col.astype(object), errors="coerce")
    bad = col[as_numbers.isna()]
    if len(bad):
        raise ValueError(
            f"overrides make column {spec.name!r} numeric, but it holds values that "
            f"are not numbers (e.g. {bad.iloc[0]!r}); leave it categorical or "
            "convert it first."
        )
    new = _numeric_spec(spec.name, as_numbers.to_numpy(dtype=float), spec.dtype,
                        margin)
    return dataclasses.replace(new, description=spec.description)


def _check_spec(spec: FeatureSpec, context: str) -> None:
    """ValueError if a (user-modified) spec is not usable for generation."""
    where = f"{context} for column {spec.name!r}"
    if spec.kind not in KINDS:
        raise ValueError(f"{where}: kind must be one of {KINDS}; got {spec.kind!r}.")
    if spec.kind == "categorical":
        if not spec.categories:
            raise ValueError(f"{where}: a categorical column needs at least one "
                             "category.")
        kinds = {_value_kind(c) for c in spec.categories}
        if len(kinds) > 1 or not kinds <= {"str", "bool", "number"}:
            found = sorted({type(c).__name__ for c in spec.categories})
            raise ValueError(f"{where}: categories must be all strings, all booleans "
                             f"or all numbers; got types {found}.")
        texts = Counter(str(c) for c in spec.categories)
        same = sorted(t for t, n in texts.items() if n > 1)
        if same:
            raise ValueError(f"{where}: categories must be distinct as text; "
                             f"{same} appear more than once.")
        return
    for field in ("low", "high"):
        value = getattr(spec, field)
        if (_value_kind(value) != "number" or not math.isfinite(value)):
            raise ValueError(f"{where}: {field} must be a finite number; got "
                             f"{value!r}.")
    if spec.low > spec.high:
        raise ValueError(f"{where}: low={spec.low} > high={spec.high}; need "
                         "low <= high.")
    if isinstance(spec.decimals, bool) or not isinstance(spec.decimals, int) or (
            not 0 <= spec.decimals <= MAX_GRAMMAR_DECIMALS):
        raise ValueError(f"{where}: decimals must be an int from 0 to "
                         f"{MAX_GRAMMAR_DECIMALS} (the finest step a grammar "
                         f"takes); got {spec.decimals!r}.")


def _override(spec: FeatureSpec, changes, col: pd.Series, margin) -> FeatureSpec:
    """Apply one column's overrides after inference."""
    if not isinstance(changes, Mapping):
        raise ValueError(
            f"overrides[{spec.name!r}] must be a dict of FeatureSpec fields, e.g. "
            f"{{'low': 0, 'high': 10}}; got {type(changes).__name__}."
        )
    allowed = [f.name for f in dataclasses.fields(FeatureSpec) if f.name != "name"]
    unknown = [k for k in changes if k not in allowed]
    if unknown:
        raise ValueError(
            f"overrides for column {spec.name!r} set unknown field(s) {unknown}; "
            f"allowed fields: {allowed}."
        )
    changes = {k: _python(v) for k, v in changes.items()}
    kind = changes.get("kind", spec.kind)
    if kind not in KINDS:
        raise ValueError(f"overrides for column {spec.name!r}: kind must be one of "
                         f"{KINDS}; got {kind!r}.")
    if kind != spec.kind:
        spec = _switch_kind(spec, kind, col, margin)
    if kind == "categorical":
        misplaced = [k for k in _NUMERIC_FIELDS if k in changes]
        if misplaced:
            raise ValueError(
                f"overrides for column {spec.name!r} set numeric field(s) "
                f"{misplaced} on a categorical column; drop them, or pass "
                "'kind': 'numeric'."
            )
        if "categories" in changes:
            changes["categories"] = tuple(_python(c) for c in changes["categories"])
    elif "categories" in changes:
        raise ValueError(
            f"overrides for column {spec.name!r} set categories on a numeric "
            "column; also pass 'kind': 'categorical'."
        )
    else:
        integer = changes.get("integer", spec.integer)
        if integer != spec.integer and "decimals" not in changes:
            values = pd.to_numeric(col.astype(object)).to_numpy(dtype=float)
            changes["decimals"] = 0 if integer else _decimals(values)
        for field, rounding in (("low", math.floor), ("high", math.ceil)):
            value = changes.get(field, getattr(spec, field))
            if integer and _value_kind(value) == "number" and math.isfinite(value):
                changes[field] = int(rounding(value))
    new = dataclasses.replace(spec, **changes)
    _check_spec(new, "overrides")
    return new


# -- schema --------------------------------------------------------------------


@dataclass(frozen=True)
class Schema:
    """The columns of a table and its label.

    Build it with :meth:`Schema.infer`; look columns up by name with
    ``schema["age"]``; iterate over its :class:`~skteam.schema.FeatureSpec`
    objects.

    Attributes
    ----------
    features : tuple of FeatureSpec
        One spec per column, in column order.
    classes : tuple
        The label's classes, as ``np.unique(y)`` gives them (python scalars).
    target : str
        The label's name in prompts.
    target_description, dataset_description : str or None
        The user's descriptions, shown to the language model.
    """

    features: tuple
    classes: tuple = ()
    target: str = DEFAULT_TARGET
    target_description: str | None = None
    dataset_description: str | None = None

    @classmethod
    def infer(cls, X, y=None, *, descriptions=None, overrides=None, margin=0.1,
              target=None, target_description=None, dataset_description=None):
        """Infer the schema of a table.

        Parameters
        ----------
        X : DataFrame, ndarray or list of lists
            The training rows, complete (no missing or infinite values).
            Integer, float and object columns of numbers are numeric; bool,
            category, string and object columns of strings are categorical.
            Columns of arrays and lists are named ``"0", "1", ...``
            (``skteam.schema.array_column_names``).
        y : array-like of shape (n_samples,), default=None
            The label; a named Series gives its name to ``target``.
        descriptions : dict, default=None
            Column name -> meaning of the column, shown in prompts.
        overrides : dict, default=None
            Column name -> dict of :class:`~skteam.schema.FeatureSpec` fields
            to set after inference, e.g. ``{"age": {"low": 18, "high": 90}}`` or
            ``{"zip": {"kind": "categorical"}}`` (categories are then the
            sorted distinct values).
        margin : float, default=0.1
            Numeric bounds are the observed range widened by this fraction
            of its span on each side (a column with one observed value keeps
            that value as both bounds), rounded outward to whole numbers for
            integer columns and to ``decimals`` decimals otherwise. A
            column without negative values never gets a negative lower
            bound, one without positive values never a positive upper
            bound (nor 0 if every value is negative), and a non-integer
            column whose values lie in [0, 1] (a share, a probability)
            never an upper bound above 1.
        target : str, default=None
            The label's name in prompts; default ``y.name`` or ``"class"``.
            A name that is also a column's becomes ``"<name> (label)"``, so
            that prompts never give two things one name.
        target_description, dataset_description : str, default=None
            Shown in prompts.

        Returns
        -------
        schema : Schema

        Raises
        ------
        ValueError
            Naming the column(s), for missing or infinite values, mixed value
            types, unsupported dtypes (dates, complex numbers, ...),
            non-string or duplicate column names, unknown names in
            ``descriptions`` or ``overrides``, and empty data.

        Examples
        --------
        >>> import pandas as pd
        >>> from skteam.schema import Schema
        >>> X = pd.DataFrame({"age": [30, 41, 52], "sex": ["M", "F", "F"]})
        >>> s = Schema.infer(X, overrides={"age": {"low": 18}})
        >>> s["age"].integer, s["age"].low, s["age"].high, s["sex"].categories
        (True, 18, 55, ('F', 'M'))
        """
        if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or not (
                math.isfinite(margin) and margin >= 0):
            raise ValueError(f"margin must be a non-negative number; got {margin!r}.")
        frame = _as_frame(X)
        if frame.shape[0] == 0 or frame.shape[1] == 0:
            raise ValueError(f"X is empty (shape {frame.shape}); pass at least one "
                             "row and one column.")
        _check_complete(frame)
        features = [_infer_column(c, frame[c], margin) for c in frame.columns]
        names = [f.name for f in features]
        descriptions = _check_descriptions(descriptions, names)
        features = [dataclasses.replace(f, description=descriptions.get(f.name))
                    for f in features]
        overrides = dict(overrides or {})
        unknown = [k for k in overrides if k not in names]
        if unknown:
            raise ValueError(f"overrides name unknown column(s) {unknown}; known "
                             f"columns: {names}.")
        for name, changes in overrides.items():
            i = names.index(name)
            features[i] = _override(features[i], changes, frame[name], margin)
        classes = () if y is None else _infer_classes(y, frame.shape[0])
        if target is None:
            name = getattr(y, "name", None)
            # an unnamed label reads as "class" in prompts (as imbalanced-learn
            # names it), so an array and a Series named "class" give one prompt
            target = DEFAULT_TARGET if name is None else str(name)
        if target in names:
            target = target + LABEL_SUFFIX
        return cls(tuple(features), classes, target, target_description,
                   dataset_description)

    @property
    def names(self) -> list:
        """Column names, in order."""
        return [f.name for f in self.features]

    def __getitem__(self, name) -> FeatureSpec:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(f"No column {name!r} in the schema; known columns: "
                       f"{self.names}.")

    def __contains__(self, name) -> bool:
        return any(f.name == name for f in self.features)

    def __iter__(self):
        return iter(self.features)

    def __len__(self):
        return len(self.features)

    def to_dict(self) -> dict:
        """JSON-serialisable form; :meth:`from_dict` restores it exactly.

        Categories and classes are written as ``[type_name, value]`` pairs so
        that ``True``, ``1`` and ``"1"`` stay distinct through JSON.
        """
        features = []
        for f in self.features:
            d = dataclasses.asdict(f)
            d["categories"] = [_encode(c) for c in f.categories]
            features.append(d)
        return {
            "features": features,
            "classes": [_encode(c) for c in self.classes],
            "target": self.target,
            "target_description": self.target_description,
            "dataset_description": self.dataset_description,
        }

    @classmethod
    def from_dict(cls, d) -> Schema:
        """Inverse of :meth:`to_dict` (also after a JSON round trip)."""
        fields = {f.name for f in dataclasses.fields(FeatureSpec)}
        features = []
        for f in d["features"]:
            f = dict(f)
            unknown = sorted(set(f) - fields)
            if unknown:
                raise ValueError(f"Schema.from_dict: unknown FeatureSpec field(s) "
                                 f"{unknown}; known fields: {sorted(fields)}.")
            f["categories"] = tuple(_decode(c) for c in f.get("categories", ()))
            features.append(FeatureSpec(**f))
        return cls(tuple(features), tuple(_decode(c) for c in d.get("classes", ())),
                   d.get("target", DEFAULT_TARGET), d.get("target_description"),
                   d.get("dataset_description"))

    def check_frame(self, X) -> dict:
        """Per-rule masks (True = the row passes) for the rows of ``X``.

        Parameters
        ----------
        X : DataFrame
            Rows with (at least) the schema's columns; an array is read as
            the schema's columns in order.

        Returns
        -------
        masks : dict of str -> ndarray of bool
            ``"type:<col>"``: the value is present and, for numeric columns,
            a number (NaN and None fail). ``"range:<col>"``: numeric value in
            ``[low, high]``. ``"integer:<col>"``: whole number, for integer
            columns. ``"category:<col>"``: one of the categories. Only the
            rules that apply to a column are present; a row whose value fails
            ``"type:"`` fails that column's other rules as well.
        """
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(X, columns=self.names)
        missing = [n for n in self.names if n not in X.columns]
        if missing:
            raise ValueError(f"X lacks the schema's column(s) {missing}; it has "
                             f"{list(X.columns)}.")
        out = {}
        for f in self.features:
            col = X[f.name]
            if f.kind == "categorical":
                present = ~np.asarray(col.isna(), dtype=bool)
                out[f"type:{f.name}"] = present
                out[f"category:{f.name}"] = present & _in_categories(col, f.categories)
                continue
            values = _to_float(col)
            ok = ~np.isnan(values)
            out[f"type:{f.name}"] = ok
            with np.errstate(invalid="ignore"):
                if f.low is not None or f.high is not None:
                    in_range = ok.copy()
                    if f.low is not None:
                        in_range &= values >= f.low - _TOL * max(1.0, abs(f.low))
                    if f.high is not None:
                        in_range &= values <= f.high + _TOL * max(1.0, abs(f.high))
                    out[f"range:{f.name}"] = in_range
                if f.integer:
                    whole = np.abs(values - np.round(values)) <= _TOL * np.maximum(
                        1.0, np.abs(values))
                    out[f"integer:{f.name}"] = ok & whole
        return out


def _encode(value) -> list:
    value = _python(value)
    type_name = type(value).__name__
    if type_name not in _SCALAR_TYPES:
        raise ValueError(f"Cannot serialise {value!r} of type {type_name}; "
                         f"categories and classes must be {sorted(_SCALAR_TYPES)}.")
    return [type_name, value]


def _decode(pair):
    type_name, value = pair
    if type_name not in _SCALAR_TYPES:
        raise ValueError(f"Schema.from_dict: unknown value type {type_name!r}; "
                         f"expected one of {sorted(_SCALAR_TYPES)}.")
    return _SCALAR_TYPES[type_name](value)


def _in_categories(col: pd.Series, categories) -> np.ndarray:
    allowed = set(categories)

    def ok(v):
        try:
            return _python(v) in allowed
        except TypeError:  # unhashable value
            return False

    return np.fromiter((ok(v) for v in col.tolist()), dtype=bool, count=len(col))


def _to_float(col: pd.Series) -> np.ndarray:
    """Numeric values of a column; NaN where a value is missing or not a number."""
    if _is_numeric_dtype(col.dtype):
        return col.to_numpy(dtype=float, na_value=np.nan)
    values = pd.to_numeric(col.astype(object), errors="coerce")
    return values.to_numpy(dtype=float, na_value=np.nan)


# -- cells ---------------------------------------------------------------------


def format_value(spec: FeatureSpec, value) -> str:
    """Text of one value, as the language model reads and writes it.

    Numbers get ``spec.decimals`` decimals (integers none); categories are
    ``str(value)``.

    Examples
    --------
    >>> from skteam.schema import FeatureSpec, format_value
    >>> format_value(FeatureSpec("bmi", "numeric", decimals=2), 21.5)
    '21.50'
    """
    if spec.kind == "categorical":
        return str(value)
    value = _python(value)
    if isinstance(value, str) or _value_kind(value) != "number":
        raise ValueError(f"Column {spec.name!r} is numeric; cannot format {value!r} "
                         "as a number.")
    if not math.isfinite(value):
        raise ValueError(f"Column {spec.name!r}: cannot format the non-finite "
                         f"value {value!r}.")
    if spec.integer:
        text = str(value if isinstance(value, int) else int(round(value)))
    else:
        text = f"{float(value):.{spec.decimals}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]  # no "-0.0"
    return text


def parse_value(spec: FeatureSpec, text: str):
    """Inverse of :func:`format_value`.

    Returns
    -------
    value : int, float or a category
        ``int`` for integer columns, ``float`` for other numeric columns, and
        for categorical columns the category (in its original type) whose
        ``str()`` is ``text``.

    Raises
    ------
    ValueError
        If ``text`` is not a number (numeric), not a whole number (integer)
        or not the text of a category (categorical).
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_value needs a string; got {type(text).__name__}.")
    if spec.kind == "categorical":
        for category in spec.categories:
            if str(category) == text:
                return category
        raise ValueError(f"{text!r} is not a category of column {spec.name!r}; "
                         f"categories: {[str(c) for c in spec.categories]}.")
    stripped = text.strip()
    if not _NUMBER.fullmatch(stripped):
        raise ValueError(f"{text!r} is not a number; column {spec.name!r} is "
                         "numeric.")
    if not math.isfinite(float(stripped)):
        raise ValueError(f"{text!r} is too large a number for column {spec.name!r}.")
    if not spec.integer:
        return float(stripped)
    try:
        return int(stripped)
    except ValueError:
        number = float(stripped)
    if not number.is_integer():
        raise ValueError(f"{text!r} is not a whole number; column {spec.name!r} "
                         "holds integers.")
    return int(number)
