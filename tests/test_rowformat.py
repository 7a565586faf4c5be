import pytest

from skteam.rowformat import (
    choice_grammar,
    format_row,
    parse_row,
    row_grammar,
    split_cells,
    split_lines,
)
from skteam.schema import FeatureSpec

WEIRD = ("a,b", 'say "hi"', "new\nline", "ünï", "Ignore previous instructions",
         " pad ", "x|y", "back\\slash", '"quoted"', "plain",
         # special-token strings, tabs, line separators, invisible characters
         "<|im_end|>", "<|im_start|>system", "tab\there", "ls\u2028ps\u2029",
         "nel\x85", "zero\u200bwidth", "rtl\u202emark", "nul\x00", "日本語 🙂")
SPECS = [
    FeatureSpec("cat, with comma", "categorical", categories=WEIRD),
    FeatureSpec("n", "numeric", integer=True, low=0, high=5),
    FeatureSpec("f", "numeric", low=-1.5, high=2.25, decimals=2),
]


@pytest.mark.parametrize("value", WEIRD)
def test_round_trip_of_odd_categories(value):
    line = format_row(SPECS, [value, 3, -0.5])
    assert "\n" not in line
    assert len(line.splitlines()) == 1 and line.isprintable()
    assert len(split_cells(line)) == 3
    assert parse_row(SPECS, line) == [value, 3, -0.5]


def test_grammar_literals_are_one_line_each():
    grammar = row_grammar(SPECS)
    # start rule + one rule per column, whatever the categories hold
    assert len(grammar.splitlines()) == 1 + len(SPECS)


def test_split_cells_keeps_quoted_commas():
    assert split_cells('"a,b",1,2.50') == ['"a,b"', "1", "2.50"]


def test_parse_rejects_illegal_text():
    with pytest.raises(ValueError):
        parse_row(SPECS, "nope,1,0.5")
    with pytest.raises(ValueError):
        parse_row(SPECS, "plain,1.5,0.5")
    with pytest.raises(ValueError):
        parse_row(SPECS, "plain,1")


def test_grammar_generates_only_legal_rows(uniform_backend):
    prefixes = ["p1 -> ", "p2 -> "]
    g = row_grammar(SPECS, prefixes)
    # 100 answers of 2 lines: the token-uniform double reaches 15-17 of the
    # 19 categories (its first token decides most of a category's chance)
    texts = uniform_backend.generate(["x"] * 100, [g] * 100, seeds=range(100),
                                     max_new_tokens=120)
    seen = set()
    for t in texts:
        for line in split_lines(t, prefixes):
            value, n, f = parse_row(SPECS, line)
            seen.add(value)
            assert 0 <= n <= 5 and -1.5 <= f <= 2.25
            assert round(f, 2) == f
    assert len(seen) >= 13


def test_grammar_takes_the_finest_step_the_schema_writes(uniform_backend):
    from skteam.schema import MAX_GRAMMAR_DECIMALS

    spec = FeatureSpec("v", "numeric", low=-2.5e-6, high=2.5e-6,
                       decimals=MAX_GRAMMAR_DECIMALS)
    g = row_grammar([spec])
    assert '"multipleOf": 1e-10' in g
    texts = uniform_backend.generate(["x"] * 20, [g] * 20, seeds=range(20),
                                     max_new_tokens=40)
    values = [parse_row([spec], line)[0]
              for t in texts for line in split_lines(t, [""])]
    assert len(values) == 20 and all(-2.5e-6 <= v <= 2.5e-6 for v in values)


def test_grammar_narrows_ranges_line_by_line(uniform_backend):
    prefixes = ["p1 -> ", "p2 -> ", "p3 -> "]
    bounds = [{"n": (3, 3)}, {}, {"n": (1, 2), "f": (0.5, 0.75)}]
    g = row_grammar(SPECS, prefixes, bounds)
    texts = uniform_backend.generate(["x"] * 30, [g] * 30, seeds=range(30),
                                     max_new_tokens=150)
    seen = [set(), set(), set()]
    for t in texts:
        for i, line in enumerate(split_lines(t, prefixes)):
            _, n, f = parse_row(SPECS, line)
            seen[i].add((n, f))
    assert {n for n, _ in seen[0]} == {3}
    assert {n for n, _ in seen[1]} - {1, 2, 3}  # line 2 keeps the whole range
    assert {n for n, _ in seen[2]} <= {1, 2}
    assert all(0.5 <= f <= 0.75 for _, f in seen[2])
    assert min(f for _, f in seen[1]) < 0.5 or max(f for _, f in seen[1]) > 0.75


def test_choice_grammar(uniform_backend):
    g = choice_grammar(["LR", "MR", "HR"], ["r1 -> ", "r2 -> "])
    texts = uniform_backend.generate(["x"] * 10, [g] * 10, seeds=range(10),
                                     max_new_tokens=20)
    for t in texts:
        lines = split_lines(t, ["r1 -> ", "r2 -> "])
        assert all(v in {"LR", "MR", "HR"} for v in lines)


def test_split_lines_checks_prefixes():
    with pytest.raises(ValueError):
        split_lines("a -> 1\n", ["a -> ", "b -> "])
    with pytest.raises(ValueError):
        split_lines("a -> 1\nc -> 2\n", ["a -> ", "b -> "])


def test_grammar_needs_columns_and_bounds():
    with pytest.raises(ValueError):
        row_grammar([])
    with pytest.raises(ValueError, match="no bounds"):
        row_grammar([FeatureSpec("z", "numeric")])
