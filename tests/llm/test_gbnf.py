"""The Lark -> GBNF translation accepts what llguidance accepts.

Every check runs grammars through llguidance with a byte-level tokenizer:
the Lark grammar directly, the GBNF through llguidance's own GBNF reader
(``llguidance.grammar_from("gbnf", ...)``), and compares acceptance on
enumerated, random-walk and mutated strings. ``%json`` number cells are
compared with a reference predicate on every spelling and with llguidance
on the canonical spellings skteam writes (see :mod:`skteam.llm.gbnf` for
llguidance's inconsistencies on the others). When llama-cpp-python is
installed, llama.cpp's GBNF parser must also read every translation.
"""

import itertools
import json
import random
import re
from decimal import Decimal

import llguidance
import numpy as np
import pytest

from skteam.llm.gbnf import _ByteTokenizer, lark_to_gbnf
from skteam.rowformat import choice_grammar, row_grammar
from skteam.schema import FeatureSpec, Schema

TOK = llguidance.LLTokenizer(llguidance.TokenizerWrapper(_ByteTokenizer()))


def _compiled(lark_text):
    return llguidance.LLMatcher.grammar_from_lark(lark_text)


def _pair(lark_text):
    gbnf = lark_to_gbnf(lark_text)
    back = llguidance.grammar_from("gbnf", gbnf)
    return _compiled(lark_text), _compiled(back), gbnf


def _acceptor(compiled):
    """A function text -> bool reusing one matcher."""
    m = llguidance.LLMatcher(TOK, compiled, log_level=0)
    assert not m.is_error(), m.get_error()

    def accepts(text):
        m.reset()
        data = list(text.encode())
        if m.validate_tokens(data) != len(data):
            return False
        m.consume_tokens(data)
        return m.is_accepting()

    return accepts


def _random_walk(compiled, rng, max_len=200):
    """A random complete string of the grammar (bytes chosen uniformly)."""
    m = llguidance.LLMatcher(TOK, compiled, log_level=0)
    out = []
    for _ in range(max_len):
        mask = np.frombuffer(m.compute_bitmask(), dtype=np.uint8)
        allowed = np.flatnonzero(np.unpackbits(mask, bitorder="little")[:257])
        if m.is_accepting() and (256 in allowed or len(allowed) == 0):
            if len(allowed) <= 1 or rng.random() < 0.3:
                break
        choices = [int(t) for t in allowed if t != 256]
        if not choices:
            break
        byte = rng.choice(choices)
        assert m.consume_token(byte)
        out.append(byte)
    return bytes(out).decode("utf-8", errors="replace")


def _mutations(text, rng, n=20, alphabet="0123456789.-,\n aA\"é"):
    out = []
    for _ in range(n):
        chars = list(text)
        op = rng.randrange(3)
        pos = rng.randrange(len(chars) + 1)
        if op == 0:
            chars.insert(pos, rng.choice(alphabet))
        elif op == 1 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif chars:
            chars[min(pos, len(chars) - 1)] = rng.choice(alphabet)
        out.append("".join(chars))
    return out


def _assert_same_language(lark_text, strings=(), walks=30, seed=0):
    lark, gbnf, gbnf_text = _pair(lark_text)
    rng = random.Random(seed)
    candidates = list(strings)
    for compiled in (lark, gbnf):
        for _ in range(walks):
            text = _random_walk(compiled, rng)
            candidates.append(text)
            candidates.extend(_mutations(text, rng))
    n_accepted = 0
    lark_accepts, gbnf_accepts = _acceptor(lark), _acceptor(gbnf)
    for text in candidates:
        a, b = lark_accepts(text), gbnf_accepts(text)
        assert a == b, (text, a, b, gbnf_text)
        n_accepted += a
    assert n_accepted > 0
    return gbnf_text


def _numbers(max_len=5, alphabet="-.0159"):
    out = []
    for n in range(1, max_len + 1):
        out += ["".join(p) for p in itertools.product(alphabet, repeat=n)]
    return out


_JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


def _reference(text, schema):
    """The documented language of a %json integer/number cell."""
    m = _JSON_NUMBER.fullmatch(text)
    if not m:
        return False
    value = Decimal(text)
    if text.startswith("-") and value == 0:
        return False
    if schema["type"] == "integer":
        if m.group(2):
            return False
    else:
        decimals = round(-np.log10(schema["multipleOf"]))
        if m.group(2) and len(m.group(2)) - 1 > decimals:
            return False
    if "minimum" in schema and value < Decimal(repr(schema["minimum"])):
        return False
    if "maximum" in schema and value > Decimal(repr(schema["maximum"])):
        return False
    return True


def _check_cell(schema, canonical, llguidance_misses=0):
    lark_text = f'start: c0 "\\n"\nc0: %json {json.dumps(schema)}\n'
    lark, gbnf, gbnf_text = _pair(lark_text)
    lark_accepts, gbnf_accepts = _acceptor(lark), _acceptor(gbnf)
    for text in _numbers() + canonical + ["-0", "-0.0", "+5", "007", ".5", "1.", "1e1"]:
        assert gbnf_accepts(text + "\n") == _reference(text, schema), (text, gbnf_text)
    n_in, missed = 0, []
    for text in canonical:
        ours, theirs = gbnf_accepts(text + "\n"), lark_accepts(text + "\n")
        assert ours or not theirs, (text, gbnf_text)
        if ours and not theirs:
            missed.append(text)
        n_in += ours
    assert n_in > 0
    # in-range canonical values that llguidance 1.9 wrongly rejects
    assert len(missed) <= llguidance_misses, missed


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer", "minimum": -3, "maximum": 120},
        {"type": "integer", "minimum": 0, "maximum": 0},
        {"type": "integer", "minimum": 1, "maximum": 9},
        {"type": "integer", "minimum": 5, "maximum": 1599},
        {"type": "integer", "minimum": -1500, "maximum": -10},
        {"type": "integer"},
        {"type": "integer", "minimum": 15},
        {"type": "integer", "maximum": -15},
    ],
)
def test_integer_cells(schema):
    _check_cell(schema, [str(i) for i in range(-1700, 1701)])


@pytest.mark.parametrize(
    "low, high, step, llguidance_misses",
    [
        # llguidance 1.9.1 rejects -1.50 and -0.90 ... -0.10 here
        (-1.5, 12.25, 0.01, 10),
        (0.0, 1.0, 0.1, 0),
        (0.5, 0.5, 0.1, 0),
        (-100.0, -0.05, 0.01, 0),
        (18.5, 95.0, 0.1, 0),
        (0.0, 1999.0, 1.0, 0),
        (-0.001, 0.999, 0.001, 0),
    ],
)
def test_number_cells(low, high, step, llguidance_misses):
    schema = {"type": "number", "minimum": low, "maximum": high, "multipleOf": step}
    decimals = round(-np.log10(step))
    scale = 10**decimals
    n_low, n_high = int((low - 2) * scale), int((high + 2) * scale)
    grid = np.unique(np.linspace(n_low, n_high, 3000).astype(int))
    canonical = [f"{Decimal(int(n)).scaleb(-decimals):.{decimals}f}" for n in grid]
    _check_cell(schema, canonical, llguidance_misses)


def _schema():
    return Schema(
        (
            FeatureSpec("age", "numeric", integer=True, low=17, high=90),
            FeatureSpec("income", "numeric", low=0.0, high=99999.75, decimals=2),
            FeatureSpec("loss", "numeric", low=-20.5, high=-1.25, decimals=2),
            FeatureSpec("ratio", "numeric", low=0.0, high=1.0, decimals=3),
            FeatureSpec("city", "categorical",
                        categories=("Paris", "New York", "a,b", 'say "hi"', "é|ü",
                                    " padded ", "back\\slash", "A", "AB")),
            FeatureSpec("flag", "categorical", categories=(True, False)),
        )
    )


def test_row_grammar_matches_llguidance():
    specs = _schema().features
    lark = row_grammar(specs, prefixes=("", 'Paris,"x" -> ', "é -> "))
    _assert_same_language(lark, walks=40)


def test_choice_grammar_matches_llguidance():
    lark = choice_grammar(["yes", "no", "maybe, later", "n"],
                          prefixes=("1 -> ", "2 -> "))
    _assert_same_language(lark, ["1 -> yes\n2 -> n\n", "1 -> y\n2 -> no\n"])


def test_manager_grammar_matches_llguidance():
    from skteam.team.manager import manager_grammar

    lark = manager_grammar(_schema(), max_roles=3)
    _assert_same_language(lark, walks=40)


@pytest.mark.parametrize(
    "regex",
    [r"[A-Z][A-Za-z ]{1,8}", r"(ab|c)+x?", r"[^,\n]{0,3}\.", r"a{2}b{2,}", r"[-a\]]+",
     r"\x41\u{e9}[\t-\r]", r"(?:x|yz)*"],
)
def test_regex_terminals_match_llguidance(regex):
    lark = f'start: T "\\n"\nT: /{regex}/\n'
    strings = ["".join(p) + "\n" for n in range(4)
               for p in itertools.product("aAbxyz-].é\t", repeat=n)]
    _assert_same_language(lark, strings)


def test_output_is_gbnf():
    gbnf = lark_to_gbnf('start: a_b ("x" | "y")~2..3 "\\n"\na_b: "q"\n')
    assert gbnf.splitlines()[0].startswith("root ::= a-b ")
    assert "a-b ::= \"q\"" in gbnf
    assert "::=" in gbnf and "{" not in gbnf


@pytest.mark.parametrize(
    "lark, match",
    [
        ('start: %json {"type": "string"}\n', "string"),
        ('start: %json {"type": "number", "minimum": 0, "maximum": 1}\n', "multipleOf"),
        ('start: /a/i\n', "flags"),
        ('start: /^a/\n', "anchor"),
        ('start: /\\w+/\n', "escape"),
        ('start: "a"\n%ignore " "\n', "directive"),
    ],
)
def test_unsupported_constructs_raise(lark, match):
    with pytest.raises(NotImplementedError, match=match):
        lark_to_gbnf(lark)


def test_missing_start_and_undefined_rule():
    with pytest.raises(ValueError, match="start"):
        lark_to_gbnf('a: "x"\n')
    with pytest.raises(ValueError, match="undefined"):
        lark_to_gbnf("start: b\n")


def test_llama_cpp_parses_translations():
    llama_cpp = pytest.importorskip("llama_cpp",
                                    reason="llama-cpp-python not installed")
    from skteam.team.manager import manager_grammar

    schema = _schema()
    for lark in (row_grammar(schema.features, ("", "x -> ")),
                 choice_grammar(["yes", "no"]), manager_grammar(schema, 3)):
        grammar = llama_cpp.LlamaGrammar.from_string(lark_to_gbnf(lark), verbose=False)
        assert grammar is not None
