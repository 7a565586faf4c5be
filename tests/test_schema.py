"""Schema inference, overrides, serialisation, frame checks and cell text."""

import json

import numpy as np
import pandas as pd
import pytest

from skteam.schema import FeatureSpec, Schema, format_value, parse_value


def frame():
    return pd.DataFrame({
        "age": [18, 40, 65],
        "bmi": [20.5, 31.25, 25.0],
        "whole": [1.0, 2.0, 5.0],
        "sex": ["F", "M", "F"],
        "smoker": [True, False, True],
        "grade": pd.Categorical(["b", "a", "b"], categories=["c", "b", "a"]),
    })


# -- numeric columns -----------------------------------------------------------


@pytest.mark.parametrize(
    "values, margin, integer, low, high, decimals",
    [
        ([18, 40, 65], 0.1, True, 13, 70, 0),               # whole steps: round(4.7)
        ([1.0, 2.0, 5.0], 0.1, True, 1, 5, 0),               # integral floats
        ([20.5, 31.25, 25.0], 0.1, False, 19.42, 32.33, 2),  # outward, 2 decimals
        ([-2.0, 0.5, 1.0], 0.1, False, -2.3, 1.3, 1),        # both signs: no clip
        ([-3.5, -1.0], 0.1, False, -3.8, -0.7, 1),
        ([-50, -1], 0.1, True, -55, -1, 0),                  # negative values:
        ([-0.001, -0.00002], 0.1, False, -0.0011, -1e-05, 5),  # stay negative
        ([-50, 0], 0.1, True, -55, 0, 0),                    # no positive values
        ([-5, 5], 0.1, True, -6, 6, 0),
        ([0, 1, 1], 0.1, True, 0, 1, 0),                     # 0/1 stays 0/1
        ([0, 1, 3], 0.5, True, 0, 5, 0),                     # -1.5 clipped to 0
        ([7, 7, 7], 0.1, True, 7, 7, 0),                     # one value: kept
        ([0, 0], 0.1, True, 0, 0, 0),
        ([-2.5, -2.5], 0.1, False, -2.5, -2.5, 1),
        ([0.75, 0.75], 0.5, False, 0.75, 0.75, 2),
        ([3, 9], 0.0, True, 3, 9, 0),
        ([3.7, -2.3], 0.1, False, -2.9, 4.3, 1),             # no float-noise step
        ([0.1, 0.2, 0.1 + 0.2], 0.1, False, 0.0, 0.4, 1),     # 0.30000000000000004
        ([3.14159265, 2.0], 0.0, False, 2.0, 3.1416, 4),     # decimals capped at 4
        ([0.5, 2.0], 0.0, False, 0.5, 2.0, 1),               # at least 1 decimal
        ([0.02, 0.5, 0.99], 0.1, False, 0.0, 1.0, 2),        # a share stays in [0, 1]
        ([0.25, 0.4, 0.55], 0.1, False, 0.22, 0.58, 2),     # not capped below 1
        ([-0.5, 0.5, 0.99], 0.1, False, -0.65, 1.14, 2),     # negatives: not a share
        ([0.5, 1.02], 0.1, False, 0.44, 1.08, 2),            # above 1: not a share
        # small magnitudes: 4 significant decimals after the leading zeros
        ([0.0123456, 0.05], 0.0, False, 0.01234, 0.05, 5),
        ([-2.2035e-06, 2.0023e-06], 0.0, False, -2.204e-06, 2.003e-06, 9),
        ([1.23456e-6, 2.5e-6], 0.0, False, 1.234e-06, 2.5e-06, 9),
        ([0.0999, 0.05], 0.0, False, 0.05, 0.0999, 4),       # needs only 4
    ],
)
def test_numeric_bounds_and_decimals(values, margin, integer, low, high, decimals):
    spec = Schema.infer(pd.DataFrame({"v": values}), margin=margin)["v"]
    assert spec.kind == "numeric"
    assert (spec.integer, spec.decimals) == (integer, decimals)
    assert spec.low == pytest.approx(low, abs=1e-12)
    assert spec.high == pytest.approx(high, abs=1e-12)
    assert spec.observed_min == min(values) and spec.observed_max == max(values)
    if integer:
        assert type(spec.low) is int and type(spec.high) is int


def test_small_magnitudes_keep_their_digits():
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1e-6, 40)
    spec = Schema.infer(pd.DataFrame({"v": values}))["v"]
    written = np.array([float(format_value(spec, v)) for v in values])
    assert np.all(written != 0)
    np.testing.assert_allclose(written, values, rtol=0.01, atol=1e-9)
    assert spec.low < values.min() and spec.high > values.max()
    assert spec.high - spec.low < 10 * np.ptp(values)


def test_too_small_magnitudes_are_refused_with_the_fix():
    X = pd.DataFrame({"ok": [1.5, 2.5, 3.0], "dose": [2e-12, 4.5e-12, 1e-12]})
    with pytest.raises(ValueError, match=r"'dose'.*4.5e-12.*X\['dose'\] \* 1e12"):
        Schema.infer(X)
    Schema.infer(X.assign(dose=X["dose"] * 1e12))  # rescaled: accepted


@pytest.mark.parametrize("dtype", ["int8", "int32", "uint8", "uint64", "float32"])
def test_numeric_dtypes(dtype):
    spec = Schema.infer(pd.DataFrame({"v": np.array([1, 2, 4], dtype=dtype)}))["v"]
    assert (spec.kind, spec.integer, spec.dtype) == ("numeric", True, dtype)
    assert (spec.low, spec.high) == (1, 4)


def test_object_column_of_numbers_is_numeric():
    X = pd.DataFrame({"v": pd.Series([1, 2.5, 3], dtype=object)})
    spec = Schema.infer(X)["v"]
    assert (spec.kind, spec.integer, spec.decimals, spec.dtype) == (
        "numeric", False, 1, "object")


# -- categorical columns -------------------------------------------------------


@pytest.mark.parametrize(
    "col, categories, dtype",
    [
        (pd.Series(["b", "c", "a", "b"], dtype=object), ("a", "b", "c"), "object"),
        (pd.Series(["b", "a"], dtype="string"), ("a", "b"), "string"),
        (pd.Categorical(["b", "a", "b"], categories=["c", "b", "a"]), ("b", "a"),
         "category"),
        (pd.Categorical([3, 1], categories=[1, 2, 3]), (1, 3), "category"),
        (pd.Series([True, False, True]), (False, True), "bool"),
        (pd.Series([True, True]), (True,), "bool"),
        (pd.array([False, True], dtype="boolean"), (False, True), "boolean"),
        (pd.Series([True, False], dtype=object), (False, True), "object"),
    ],
)
def test_categorical_columns(col, categories, dtype):
    spec = Schema.infer(pd.DataFrame({"c": col}))["c"]
    assert spec.kind == "categorical" and spec.dtype == dtype
    assert spec.categories == categories
    assert [type(c) for c in spec.categories] == [type(c) for c in categories]
    assert spec.low is None and spec.high is None


# -- arrays, lists and labels --------------------------------------------------


def test_numpy_array_columns_are_named_by_position():
    s = Schema.infer(np.array([[1.5, 2.0], [3.25, 4.0]]))
    assert s.names == ["0", "1"]
    assert (s["0"].integer, s["0"].decimals) == (False, 2)
    assert s["1"].integer


def test_list_of_lists_gets_one_dtype_per_column():
    s = Schema.infer([["a", 1, True, 0.5], ["b", 2, False, 1.0]])
    assert [f.kind for f in s] == ["categorical", "numeric", "categorical", "numeric"]
    assert s["0"].categories == ("a", "b")
    assert s["1"].integer and not s["3"].integer
    assert s["2"].categories == (False, True)


def test_string_and_object_arrays():
    s = Schema.infer(np.array([["x", "1"], ["y", "2"]]))
    assert s["0"].categories == ("x", "y") and s["1"].categories == ("1", "2")
    assert all(type(c) is str for c in s["0"].categories)
    s2 = Schema.infer(np.array([["x", 1], ["y", 2]], dtype=object))
    assert (s2["0"].kind, s2["1"].kind) == ("categorical", "numeric")


def test_labels():
    s = Schema.infer(frame(), pd.Series(np.array([1, 0, 1]), name="recid"))
    assert s.target == "recid" and s.classes == (0, 1)
    assert all(type(c) is int for c in s.classes)
    s = Schema.infer(frame(), pd.Series(["no", "yes", "no"], name="recid"),
                     target="outcome", target_description="reoffended")
    assert (s.target, s.classes, s.target_description) == (
        "outcome", ("no", "yes"), "reoffended")
    unlabelled = Schema.infer(frame())
    assert unlabelled.classes == () and unlabelled.target == "class"
    assert Schema.infer(frame(), [True, False, True]).classes == (False, True)


@pytest.mark.parametrize(
    "y, match",
    [
        ([1, np.nan, 0], "y has 1 missing"),
        (["a", None, "b"], "y has 1 missing"),
        ([0, 1], "3 rows but y has 2"),
        (np.array([1, "a", 2], dtype=object), r"y mixes label types \['int', 'str'\]"),
    ],
)
def test_bad_labels(y, match):
    with pytest.raises(ValueError, match=match):
        Schema.infer(frame(), y)


# -- errors that name the column -----------------------------------------------


@pytest.mark.parametrize(
    "col, match",
    [
        ([1.0, np.nan, 2.0], r"'c' \(1 missing\)"),
        ([1.0, np.inf, -np.inf], r"'c' \(2 infinite\)"),
        (["a", None, "b"], r"'c' \(1 missing\)"),
        (pd.Series([1, None, np.inf], dtype=object), r"'c' \(1 missing and 1 infinite"),
        (pd.array([1, None, 3], dtype="Int64"), r"'c' \(1 missing\)"),
        (pd.Categorical(["a", None, "a"]), r"'c' \(1 missing\)"),
    ],
)
def test_incomplete_columns_are_named_with_counts(col, match):
    with pytest.raises(ValueError, match=match) as info:
        Schema.infer(pd.DataFrame({"ok": [1, 2, 3], "c": col}))
    assert "SimpleImputer" in str(info.value) and "'ok'" not in str(info.value)


def test_every_incomplete_column_is_listed():
    X = pd.DataFrame({"a": [np.nan, 1.0], "b": [1, 2], "c": [None, None]})
    with pytest.raises(ValueError, match=r"'a' \(1 missing\), 'c' \(2 missing\)"):
        Schema.infer(X)


def test_missing_values_in_lists_and_arrays():
    with pytest.raises(ValueError, match=r"'1' \(1 missing\)"):
        Schema.infer([[1, 2.0], [3, None]])
    with pytest.raises(ValueError, match=r"'0' \(1 infinite\)"):
        Schema.infer(np.array([[np.inf], [1.0]]))


@pytest.mark.parametrize(
    "col",
    [
        pd.to_datetime(["2020-01-01", "2021-01-01", "2022-01-01"]),
        pd.to_timedelta([1, 2, 3], unit="D"),
        np.array([1 + 1j, 2, 3]),
        pd.period_range("2020-01", periods=3, freq="M"),
        pd.interval_range(0, 3),
    ],
)
def test_unsupported_dtypes_are_named(col):
    with pytest.raises(ValueError, match=r"Column 'c' has dtype .*Convert it"):
        Schema.infer(pd.DataFrame({"ok": [1, 2, 3], "c": col}))


@pytest.mark.parametrize(
    "values, types",
    [
        ([1, "a", 2], r"\['int', 'str'\]"),
        ([True, 1, 0], r"\['bool', 'int'\]"),
        (["a", b"b", "c"], r"\['bytes', 'str'\]"),
    ],
)
def test_mixed_object_columns(values, types):
    X = pd.DataFrame({"ok": [1, 2, 3], "mix": pd.Series(values, dtype=object)})
    with pytest.raises(ValueError, match=rf"'mix' mixes value types {types}") as info:
        Schema.infer(X)
    assert ".astype(str)" in str(info.value)


def test_column_names_must_be_distinct_strings():
    with pytest.raises(ValueError, match=r"must be strings.*\[0, 2\]"):
        Schema.infer(pd.DataFrame({0: [1], "a": [2], 2: [3]}))
    with pytest.raises(ValueError, match=r"Duplicate column names \['a'\]"):
        Schema.infer(pd.DataFrame([[1, 2, 3]], columns=["a", "a", "b"]))


@pytest.mark.parametrize(
    "X, match",
    [
        (pd.DataFrame({"a": []}), "empty"),
        (pd.DataFrame(index=[0, 1]), "empty"),
        ([], "empty"),
        (np.zeros((0, 3)), "empty"),
        (np.array([1.0, 2.0]), "2-dimensional"),
        ([[1, 2], [3]], "2-dimensional"),
        (pd.Series([1, 2]), "to_frame"),
    ],
)
def test_bad_shapes(X, match):
    with pytest.raises(ValueError, match=match):
        Schema.infer(X)


def test_bad_margin():
    with pytest.raises(ValueError, match="margin"):
        Schema.infer(frame(), margin=-0.1)


# -- descriptions and overrides ------------------------------------------------


def test_descriptions():
    s = Schema.infer(frame(), descriptions={"age": "age in years"},
                     dataset_description="patients")
    assert s["age"].description == "age in years" and s["bmi"].description is None
    assert s.dataset_description == "patients"
    with pytest.raises(ValueError, match=r"unknown column\(s\) \['nope'\].*'age'"):
        Schema.infer(frame(), descriptions={"age": "x", "nope": "y"})
    with pytest.raises(TypeError, match="'age' must be a string"):
        Schema.infer(frame(), descriptions={"age": 3})


def test_overrides_set_fields():
    s = Schema.infer(frame(), overrides={"age": {"low": 18, "high": 90},
                                         "bmi": {"decimals": 1}})
    assert (s["age"].low, s["age"].high) == (18, 90)
    assert s["bmi"].decimals == 1 and s["bmi"].low == pytest.approx(19.42)


def test_override_to_categorical_uses_sorted_values():
    X = pd.DataFrame({"code": [10, 2, 1, 2]})
    spec = Schema.infer(X, overrides={"code": {"kind": "categorical"}})["code"]
    assert spec.kind == "categorical" and spec.categories == (1, 2, 10)
    assert spec.low is None and not spec.integer
    assert all(type(c) is int for c in spec.categories)


def test_override_to_numeric_and_integer():
    X = pd.DataFrame({"zip": ["10", "2", "33"], "f": [1.5, 2.25, 3.0]})
    s = Schema.infer(X, overrides={"zip": {"kind": "numeric"},
                                   "f": {"integer": True}})
    assert (s["zip"].kind, s["zip"].integer, s["zip"].low, s["zip"].high) == (
        "numeric", True, 0, 36)
    assert (s["f"].integer, s["f"].decimals, s["f"].low, s["f"].high) == (
        True, 0, 1, 4)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"nope": {"low": 1}}, r"unknown column\(s\) \['nope'\]"),
        ({"age": {"colour": 1}}, r"unknown field\(s\) \['colour'\]"),
        ({"age": {"name": "x"}}, r"unknown field\(s\) \['name'\]"),
        ({"age": {"low": 9, "high": 1}}, "low <= high"),
        ({"age": {"low": None}}, "low must be a finite number"),
        ({"age": {"kind": "text"}}, "kind must be one of"),
        ({"age": {"categories": ["a"]}}, "also pass 'kind': 'categorical'"),
        ({"sex": {"low": 1}}, "numeric field"),
        ({"sex": {"kind": "numeric"}}, "not numbers"),
        ({"sex": {"categories": []}}, "at least one category"),
        ({"sex": {"categories": [1, "1"]}}, "all strings"),
        ({"sex": {"categories": ["1", "1"]}}, "distinct as text"),
        ({"age": 5}, "must be a dict"),
        ({"bmi": {"decimals": 11}}, "decimals must be an int from 0 to 10"),
        ({"bmi": {"decimals": -1}}, "decimals must be an int from 0 to 10"),
    ],
)
def test_bad_overrides(overrides, match):
    with pytest.raises(ValueError, match=match):
        Schema.infer(frame(), overrides=overrides)


# -- lookup and serialisation --------------------------------------------------


def test_lookup():
    s = Schema.infer(frame())
    assert len(s) == 6 and [f.name for f in s] == s.names == list(frame().columns)
    assert "age" in s and "nope" not in s
    with pytest.raises(KeyError, match=r"'nope'.*known columns.*'age'"):
        s["nope"]


def test_round_trip_through_json_keeps_types():
    X = frame().assign(code=["1", "2", "1"], flag=[0, 1, 1])
    s = Schema.infer(X, [True, False, True], descriptions={"age": "years"},
                     overrides={"flag": {"kind": "categorical"}})
    d = json.loads(json.dumps(s.to_dict()))
    back = Schema.from_dict(d)
    assert back == s
    assert [type(c) for c in back["smoker"].categories] == [bool, bool]
    assert [type(c) for c in back["flag"].categories] == [int, int]
    assert [type(c) for c in back["code"].categories] == [str, str]
    assert [type(c) for c in back.classes] == [bool, bool]
    assert type(back["age"].low) is int and type(back["bmi"].low) is float


def test_from_dict_rejects_unknown_fields():
    d = Schema.infer(frame()).to_dict()
    d["features"][0]["colour"] = "red"
    with pytest.raises(ValueError, match="colour"):
        Schema.from_dict(d)


# -- check_frame ---------------------------------------------------------------


def test_check_frame_masks():
    s = Schema.infer(frame())
    bad = pd.DataFrame({
        "age": [200, 40, "x", 30],
        "bmi": [25.0, np.nan, 25.0, np.inf],
        "whole": [2.0, 2.5, 3.0, 4.0],
        "sex": ["F", "X", None, "M"],
        "smoker": [True, False, 1.5, True],
        "grade": ["a", "c", "b", "b"],
    })
    m = s.check_frame(bad)
    assert set(m) == {"type:age", "range:age", "integer:age", "type:bmi", "range:bmi",
                      "type:whole", "range:whole", "integer:whole", "type:sex",
                      "category:sex", "type:smoker", "category:smoker",
                      "type:grade", "category:grade"}
    assert m["type:age"].tolist() == [True, True, False, True]
    assert m["range:age"].tolist() == [False, True, False, True]
    assert m["type:bmi"].tolist() == [True, False, True, True]
    assert m["range:bmi"].tolist() == [True, False, True, False]   # inf is out of range
    assert m["integer:whole"].tolist() == [True, False, True, True]
    assert m["type:sex"].tolist() == [True, True, False, True]
    assert m["category:sex"].tolist() == [True, False, False, True]
    assert m["category:smoker"].tolist() == [True, True, False, True]
    assert m["category:grade"].tolist() == [True, False, True, True]  # 'c' unseen
    assert all(v.dtype == bool and v.shape == (4,) for v in m.values())


def test_check_frame_bounds_are_inclusive_and_arrays_work():
    s = Schema.infer(pd.DataFrame({"v": [0.5, 1.5]}), margin=0)
    X = np.array([[0.5], [1.5], [1.5000001], [0.4999]])
    assert s.check_frame(X)["range:v"].tolist() == [True, True, False, False]
    with pytest.raises(ValueError, match=r"lacks the schema's column\(s\) \['v'\]"):
        s.check_frame(pd.DataFrame({"w": [1.0]}))


def test_training_data_passes_its_own_checks():
    s = Schema.infer(frame())
    assert all(m.all() for m in s.check_frame(frame()).values())


# -- cell text -----------------------------------------------------------------

INT = FeatureSpec("n", "numeric", integer=True, low=0, high=10)
FLT = FeatureSpec("f", "numeric", low=-5.0, high=5.0, decimals=2)
CAT = FeatureSpec("c", "categorical", categories=("a", "b"))
BOOL = FeatureSpec("b", "categorical", categories=(False, True))
ICAT = FeatureSpec("i", "categorical", categories=(1, 10))


@pytest.mark.parametrize(
    "spec, value, text",
    [
        (INT, 3, "3"),
        (INT, np.int64(7), "7"),
        (INT, 4.0, "4"),
        (INT, 12345678901234567890, "12345678901234567890"),
        (FLT, 1.5, "1.50"),
        (FLT, -0.125, "-0.12"),
        (FLT, -0.001, "0.00"),       # no "-0.00"
        (FLT, np.float32(2.25), "2.25"),
        (CAT, "b", "b"),
        (BOOL, True, "True"),
        (ICAT, 10, "10"),
    ],
)
def test_format_value(spec, value, text):
    assert format_value(spec, value) == text


@pytest.mark.parametrize(
    "spec, value",
    [(INT, 3), (INT, -4), (FLT, 1.25), (FLT, -4.5), (CAT, "a"), (BOOL, False),
     (BOOL, True), (ICAT, 1), (ICAT, 10)],
)
def test_format_parse_round_trip(spec, value):
    back = parse_value(spec, format_value(spec, value))
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize(
    "spec, text, match",
    [
        (INT, "3.5", "not a whole number"),
        (INT, "abc", "not a number"),
        (FLT, "nan", "not a number"),
        (FLT, "1_0", "not a number"),
        (FLT, "", "not a number"),
        (FLT, "1e999", "too large"),
        (CAT, "c", r"'c' is not a category of column 'c'"),
        (BOOL, "true", "not a category"),
    ],
)
def test_parse_value_rejects(spec, text, match):
    with pytest.raises(ValueError, match=match):
        parse_value(spec, text)


def test_parse_value_numbers():
    assert parse_value(INT, "3.0") == 3 and type(parse_value(INT, "3.0")) is int
    assert parse_value(FLT, " 2.5 ") == 2.5 and type(parse_value(FLT, "2")) is float
    with pytest.raises(ValueError, match="numeric"):
        format_value(INT, "3")


def test_a_label_named_like_a_column_is_kept_apart_in_prompts():
    X = pd.DataFrame({"age": [30, 40, 50], "class": ["a", "b", "a"]})
    # unnamed label beside a column "class"; a named one beside its twin
    assert Schema.infer(X, np.array([0, 1, 0])).target == "class (label)"
    assert Schema.infer(X, pd.Series([0, 1, 0], name="age")).target == "age (label)"
    assert Schema.infer(X, target="class").target == "class (label)"
    assert Schema.infer(X, pd.Series([0, 1, 0], name="sick")).target == "sick"
    assert Schema.infer(X[["age"]], np.array([0, 1, 0])).target == "class"
