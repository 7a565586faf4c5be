"""Translate skteam's Lark grammars into GBNF for servers without llguidance.

skteam writes its grammars in the Lark dialect of llguidance
(:mod:`skteam.rowformat`, :func:`skteam.team.manager.manager_grammar`).
llama.cpp's server reads GBNF instead, and vLLM reads GBNF with either of its
structured-output backends (xgrammar or guidance). This module translates
the subset skteam emits into GBNF that accepts exactly the same strings:

- rules (``name: ...``) and terminals (``NAME: ...``), sequences,
  alternatives ``|``, groups ``( )``, optional groups ``[ ]``, the
  quantifiers ``?``, ``*``, ``+``, ``~n`` and ``~m..n``;
- string literals (JSON escapes);
- regular expressions ``/.../`` made of literal characters, escapes,
  character classes, ``.``, groups, ``|`` and the quantifiers ``?``, ``*``,
  ``+``, ``{n}``, ``{m,}``, ``{m,n}``;
- ``%json`` with an integer schema (optional ``minimum`` and ``maximum``) or
  a number schema with ``minimum``, ``maximum`` and ``multipleOf`` equal to
  ``10**-d``. These are expanded into digit-by-digit alternatives for the
  JSON numbers in ``[minimum, maximum]`` with no exponent, no leading zero,
  no negative zero and at most ``d`` fraction digits (so ``1.5`` and
  ``1.50`` for ``d=2``).

Anything else raises :class:`NotImplementedError` naming the construct.

This is the JSON Schema meaning, and every string accepted parses to an
in-range value. llguidance 1.9 agrees on the cells skteam writes (integers,
and numbers with exactly ``d`` decimals as in the prompts) except for a few
values it wrongly rejects: with ``minimum=-1.5, multipleOf=0.01`` it
rejects ``-1.50`` and ``-0.90`` ... ``-0.10`` (it accepts ``-1.5``). On
other spellings it is not self-consistent (``-0`` is accepted in some
ranges only); the translation does not copy these quirks.
Bounded repetitions are expanded into nested optional groups
(``x (x (x)?)?``), so the output needs no ``{m,n}`` support from the
server. The tests check the translation against llguidance itself
(``tests/llm/test_gbnf.py``).
"""

from __future__ import annotations

import json
import math
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

__all__ = ["lark_to_gbnf", "gbnf_acceptor"]

# AST nodes are tuples:
#   ("lit", text) ("cls", ((lo, hi), ...), negated) ("ref", name)
#   ("seq", (node, ...)) ("alt", (node, ...)) ("rep", node, low, high|None)
_EMPTY = ("seq", ())
_MAX_EXPANDED_REPEAT = 256


def lark_to_gbnf(grammar: str, prefix: str = "") -> str:
    """Translate a Lark grammar of skteam's subset into GBNF.

    Parameters
    ----------
    grammar : str
        A grammar in the Lark dialect of llguidance with a ``start`` rule.
    prefix : str, default=""
        A fixed text the output must start with (an assistant prefill).

    Returns
    -------
    gbnf : str
        The same language in GBNF, with ``root`` as its start rule.

    Raises
    ------
    NotImplementedError
        If the grammar uses a construct outside the supported subset.
    ValueError
        If the grammar is malformed or has no ``start`` rule.
    """
    rules = _parse_grammar(grammar)
    if "start" not in rules:
        raise ValueError("The grammar has no 'start' rule.")
    if prefix:
        rules = {"start": ("seq", (("lit", prefix), ("ref", "skteam_body"))),
                 "skteam_body": rules["start"],
                 **{k: v for k, v in rules.items() if k != "start"}}
    names = _gbnf_names(rules)
    lines = []
    for name in ["start"] + [n for n in rules if n != "start"]:
        lines.append(f"{names[name]} ::= {_emit(rules[name], names)}")
    return "\n".join(lines) + "\n"


class _ByteTokenizer:
    eos_token_id = 256
    bos_token_id = None
    tokens = [bytes([i]) for i in range(256)] + [b"<eos>"]
    special_token_ids = [256]

    def __call__(self, data):
        return list(data)


_BYTE_TOKENIZER = None


def gbnf_acceptor(gbnf: str, prefixes: bool = False):
    """A function telling whether a text is in a GBNF language.

    Uses llguidance's GBNF reader with a byte-level tokenizer, so it needs no
    model. Used to check that a server honoured the grammar it was sent.

    Parameters
    ----------
    gbnf : str
    prefixes : bool, default=False
        Accept every prefix of a string of the language too (a text cut
        short by a token limit).

    Returns
    -------
    accepts : callable
        ``accepts(text) -> bool``; not thread-safe (one matcher is reused).
    """
    import llguidance

    global _BYTE_TOKENIZER
    if _BYTE_TOKENIZER is None:
        _BYTE_TOKENIZER = llguidance.LLTokenizer(
            llguidance.TokenizerWrapper(_ByteTokenizer())
        )
    compiled = llguidance.LLMatcher.grammar_from_lark(
        llguidance.grammar_from("gbnf", gbnf)
    )
    matcher = llguidance.LLMatcher(_BYTE_TOKENIZER, compiled, log_level=0)
    if matcher.is_error():
        raise ValueError(f"Invalid GBNF grammar: {matcher.get_error()}")

    def accepts(text: str) -> bool:
        matcher.reset()
        data = list(text.encode("utf-8"))
        if matcher.validate_tokens(data) != len(data):
            return False
        if prefixes:
            return True
        matcher.consume_tokens(data)
        return matcher.is_accepting()

    return accepts


# -- Lark parsing -------------------------------------------------------------
_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t]+)
  | (?P<comment>//[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"(?P<sflags>[a-z]*))
  | (?P<regex>/(?:[^/\\\n]|\\.)+/(?P<rflags>[a-z]*))
  | (?P<directive>%[a-z_]+)
  | (?P<range>~\s*\d+(?:\s*\.\.\s*\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[()\[\]|?*+])
    """,
    re.VERBOSE,
)


def _parse_grammar(text: str) -> dict:
    """Rules of a Lark grammar, in order, as AST nodes."""
    definitions = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("//"):
            continue
        if line.startswith("|") and definitions:
            definitions[-1][1] += " " + line
            continue
        if line.startswith("%"):
            raise NotImplementedError(
                f"Lark directive line {line!r} has no GBNF translation."
            )
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:(.*)$", line)
        if not m:
            raise ValueError(f"Cannot read the grammar line {raw!r}.")
        definitions.append([m.group(1), m.group(2)])
    rules = {}
    for name, body in definitions:
        if name in rules:
            raise NotImplementedError(f"Rule {name!r} is defined twice.")
        rules[name] = _Parser(body).parse()
    for name, node in rules.items():
        for ref in _refs(node):
            if ref not in rules:
                raise ValueError(f"Rule {name!r} refers to undefined {ref!r}.")
    return rules


class _Parser:
    """Recursive-descent parser of one rule's right-hand side."""

    def __init__(self, text: str):
        self.tokens = []
        pos = 0
        while pos < len(text):
            if text.startswith("%json", pos):
                decoder = json.JSONDecoder()
                rest = text[pos + len("%json"):]
                stripped = rest.lstrip()
                schema, end = decoder.raw_decode(stripped)
                self.tokens.append(("json", schema))
                pos += len("%json") + (len(rest) - len(stripped)) + end
                continue
            m = _TOKEN.match(text, pos)
            if m is None:
                raise NotImplementedError(
                    f"Unsupported Lark syntax at {text[pos:pos + 30]!r}."
                )
            pos = m.end()
            if m.group("ws") or m.group("comment"):
                continue
            if m.group("string") is not None:
                if m.group("sflags"):
                    raise NotImplementedError(
                        f"String flags in {m.group('string')!r} are not supported."
                    )
                self.tokens.append(("lit", json.loads(m.group("string"))))
            elif m.group("regex") is not None:
                if m.group("rflags"):
                    raise NotImplementedError(
                        f"Regex flags in {m.group('regex')!r} are not supported."
                    )
                self.tokens.append(("regex", m.group("regex")[1:-1]))
            elif m.group("directive") is not None:
                raise NotImplementedError(
                    f"Lark directive {m.group('directive')!r} has no GBNF "
                    "translation (only %json integer/number schemas do)."
                )
            elif m.group("range") is not None:
                nums = [int(x) for x in re.findall(r"\d+", m.group("range"))]
                self.tokens.append(("range", (nums[0], nums[-1])))
            elif m.group("name") is not None:
                self.tokens.append(("name", m.group("name")))
            else:
                self.tokens.append(("punct", m.group("punct")))
        self.i = 0

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def parse(self):
        node = self.alt()
        if self.i != len(self.tokens):
            raise ValueError(f"Unexpected {self.peek()[1]!r} in the grammar.")
        return node

    def alt(self):
        options = [self.seq()]
        while self.peek() == ("punct", "|"):
            self.i += 1
            options.append(self.seq())
        return options[0] if len(options) == 1 else ("alt", tuple(options))

    def seq(self):
        items = []
        while True:
            kind, value = self.peek()
            if kind is None or (kind == "punct" and value in "|)]"):
                break
            items.append(self.item())
        return items[0] if len(items) == 1 else ("seq", tuple(items))

    def item(self):
        node = self.atom()
        while True:
            kind, value = self.peek()
            if kind == "punct" and value in "?*+":
                self.i += 1
                low, high = {"?": (0, 1), "*": (0, None), "+": (1, None)}[value]
                node = ("rep", node, low, high)
            elif kind == "range":
                self.i += 1
                node = ("rep", node, value[0], value[1])
            else:
                return node

    def atom(self):
        kind, value = self.peek()
        self.i += 1
        if kind == "lit":
            return ("lit", value)
        if kind == "regex":
            return _parse_regex(value)
        if kind == "json":
            return _json_node(value)
        if kind == "name":
            return ("ref", value)
        if kind == "punct" and value in "([":
            inner = self.alt()
            close = ")" if value == "(" else "]"
            if self.peek() != ("punct", close):
                raise ValueError(f"Missing {close!r} in the grammar.")
            self.i += 1
            return inner if value == "(" else ("rep", inner, 0, 1)
        raise ValueError(f"Unexpected {value!r} in the grammar.")


def _refs(node):
    kind = node[0]
    if kind == "ref":
        yield node[1]
    elif kind in ("seq", "alt"):
        for child in node[1]:
            yield from _refs(child)
    elif kind == "rep":
        yield from _refs(node[1])


# -- regular expressions --------------------------------------------------------
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "0": "\0"}


def _parse_regex(pattern: str):
    parser = _RegexParser(pattern)
    node = parser.alt()
    if parser.i != len(pattern):
        raise NotImplementedError(f"Unsupported regex syntax in /{pattern}/.")
    return node


class _RegexParser:
    def __init__(self, pattern: str):
        self.p = pattern
        self.i = 0

    def unsupported(self, what):
        return NotImplementedError(
            f"Regex /{self.p}/ uses {what}, which has no GBNF translation here."
        )

    def alt(self):
        options = [self.seq()]
        while self.i < len(self.p) and self.p[self.i] == "|":
            self.i += 1
            options.append(self.seq())
        return options[0] if len(options) == 1 else ("alt", tuple(options))

    def seq(self):
        items = []
        while self.i < len(self.p) and self.p[self.i] not in "|)":
            items.append(self.quantified())
        return items[0] if len(items) == 1 else ("seq", tuple(items))

    def quantified(self):
        node = self.atom()
        while self.i < len(self.p):
            c = self.p[self.i]
            if c in "?*+":
                self.i += 1
                low, high = {"?": (0, 1), "*": (0, None), "+": (1, None)}[c]
            elif c == "{":
                m = re.match(r"\{(\d+)(?:(,)(\d*))?\}", self.p[self.i:])
                if not m:
                    raise self.unsupported("a malformed {m,n} repetition")
                self.i += m.end()
                low = int(m.group(1))
                if m.group(2) is None:
                    high = low
                else:
                    high = int(m.group(3)) if m.group(3) else None
            else:
                return node
            if self.i < len(self.p) and self.p[self.i] in "?+":
                # lazy/possessive forms match the same language here
                raise self.unsupported("a lazy or possessive quantifier")
            node = ("rep", node, low, high)
        return node

    def atom(self):
        c = self.p[self.i]
        self.i += 1
        if c == "(":
            if self.p.startswith("?:", self.i):
                self.i += 2
            elif self.p.startswith("?", self.i):
                raise self.unsupported("a group flag or look-around")
            node = self.alt()
            if self.i >= len(self.p) or self.p[self.i] != ")":
                raise self.unsupported("an unbalanced group")
            self.i += 1
            return node
        if c == "[":
            return self.char_class()
        if c == ".":
            return ("cls", ((10, 10),), True)
        if c in "^$":
            raise self.unsupported("an anchor")
        if c == "\\":
            ch = self.escape()
            return ("lit", ch)
        if c in "*+?{":
            raise self.unsupported(f"a quantifier {c!r} with nothing before it")
        return ("lit", c)

    def escape(self) -> str:
        c = self.p[self.i]
        self.i += 1
        if c in _ESCAPES:
            return _ESCAPES[c]
        if c == "x":
            m = re.match(r"[0-9A-Fa-f]{2}", self.p[self.i:])
            if not m:
                raise self.unsupported("a malformed \\x escape")
            self.i += 2
            return chr(int(m.group(0), 16))
        if c == "u":
            m = re.match(r"\{([0-9A-Fa-f]{1,6})\}|([0-9A-Fa-f]{4})", self.p[self.i:])
            if not m:
                raise self.unsupported("a malformed \\u escape")
            self.i += m.end()
            return chr(int(m.group(1) or m.group(2), 16))
        if c.isalnum():
            raise self.unsupported(f"the escape \\{c}")
        return c

    def char_class(self):
        negated = self.p.startswith("^", self.i)
        if negated:
            self.i += 1
        ranges = []
        first = True
        while True:
            if self.i >= len(self.p):
                raise self.unsupported("an unterminated character class")
            c = self.p[self.i]
            if c == "]" and not first:
                self.i += 1
                break
            if c == "[":
                raise self.unsupported("a nested character class")
            first = False
            self.i += 1
            lo = self.escape() if c == "\\" else c
            if (self.p.startswith("-", self.i)
                    and not self.p.startswith("-]", self.i)):
                self.i += 1
                d = self.p[self.i]
                self.i += 1
                hi = self.escape() if d == "\\" else d
                if ord(hi) < ord(lo):
                    raise self.unsupported("a reversed range")
                ranges.append((ord(lo), ord(hi)))
            else:
                ranges.append((ord(lo), ord(lo)))
        return ("cls", tuple(ranges), negated)


# -- %json numbers --------------------------------------------------------------
def _json_node(schema):
    if not isinstance(schema, dict):
        raise NotImplementedError(f"%json {schema!r} is not a schema object.")
    kind = schema.get("type")
    known = {"type", "minimum", "maximum", "multipleOf"}
    extra = set(schema) - known
    if kind not in ("integer", "number") or extra:
        raise NotImplementedError(
            f"%json {json.dumps(schema)} is not supported; only integer or "
            "number schemas with minimum, maximum and (for numbers) "
            "multipleOf = 10**-d translate to GBNF."
        )
    if kind == "integer":
        if "multipleOf" in schema:
            raise NotImplementedError("%json integer with multipleOf is not supported.")
        low = _bound(schema.get("minimum"), ROUND_CEILING)
        high = _bound(schema.get("maximum"), ROUND_FLOOR)
        return _signed_fixed(low, high, 0)
    step = schema.get("multipleOf")
    decimals = _power_of_ten_decimals(step)
    if decimals is None or "minimum" not in schema or "maximum" not in schema:
        raise NotImplementedError(
            f"%json {json.dumps(schema)}: a number needs minimum, maximum and "
            "multipleOf = 10**-d to translate to GBNF."
        )
    scale = Decimal(10) ** decimals
    low = _bound(schema["minimum"], ROUND_CEILING, scale)
    high = _bound(schema["maximum"], ROUND_FLOOR, scale)
    options = []
    for k in range(decimals + 1):
        unit = 10 ** (decimals - k)  # value = M / 10**k = N / 10**decimals
        lo_k = -((-low) // unit)
        hi_k = high // unit
        if lo_k <= hi_k:
            options.append(_signed_fixed(lo_k, hi_k, k))
    if not options:
        raise ValueError(f"%json {json.dumps(schema)} admits no value.")
    return _alt(options)


def _bound(value, rounding, scale=Decimal(1)):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise NotImplementedError(f"Bound {value!r} is not a finite number.")
    return int((Decimal(repr(value)) * scale).to_integral_value(rounding))


def _power_of_ten_decimals(step):
    if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0:
        return None
    decimals = round(-math.log10(step))
    if decimals < 0 or not math.isclose(step, 10.0 ** -decimals, rel_tol=1e-9):
        return None
    return decimals


def _signed_fixed(low, high, k):
    """Integers M in [low, high] written as M / 10**k with exactly k decimals.

    ``None`` bounds are unbounded. Negative values carry ``-``; zero never
    does.
    """
    options = []
    if high is None or high >= 0:
        options.append(_unsigned_fixed(max(low, 0) if low is not None else 0, high, k))
    if low is None or low < 0:
        magnitude_high = None if low is None else -low
        magnitude_low = max(1, -high) if high is not None else 1
        if magnitude_high is None or magnitude_low <= magnitude_high:
            options.append(("seq", (("lit", "-"),
                                    _unsigned_fixed(magnitude_low, magnitude_high, k))))
    return _alt(options)


def _unsigned_fixed(low, high, k):
    """Non-negative M in [low, high] as digits with a point before the last k.

    Below ``10**(k+1)`` the digits are zero-padded to ``k + 1`` (``0.05``);
    above, they have no leading zero. ``high=None`` is unbounded.
    """
    width = k + 1
    top = high
    if high is None:
        top = 10 ** max(width, len(str(low))) - 1
    patterns = []
    small_high = min(top, 10 ** width - 1)
    if low <= small_high:
        patterns += _fixed_width(str(low).zfill(width), str(small_high).zfill(width))
    for length in range(width + 1, len(str(top)) + 1):
        a, b = max(low, 10 ** (length - 1)), min(top, 10 ** length - 1)
        if a <= b:
            patterns += _fixed_width(str(a), str(b))
    nodes = [_with_point([_digit(lo, hi) for lo, hi in p], k) for p in patterns]
    if high is None:
        # every longer number: a nonzero digit, any digits, then len(top) digits
        digits = [_digit(1, 9), ("rep", _DIGIT, 0, None)]
        digits += [_DIGIT] * len(str(top))
        nodes.append(_with_point(digits, k))
    return _alt(nodes)


_DIGIT = ("cls", ((48, 57),), False)


def _fixed_width(a: str, b: str):
    """Digit-range patterns matching the numbers from a to b (same length)."""
    if not a:
        return [[]]
    a0, b0 = int(a[0]), int(b[0])
    if a0 == b0:
        return [[(a0, a0)] + rest for rest in _fixed_width(a[1:], b[1:])]
    n = len(a) - 1
    low_full, high_full = a[1:] == "0" * n, b[1:] == "9" * n
    out = []
    if not low_full:
        out += [[(a0, a0)] + rest for rest in _fixed_width(a[1:], "9" * n)]
    start, end = (a0 if low_full else a0 + 1), (b0 if high_full else b0 - 1)
    if start <= end:
        out.append([(start, end)] + [(0, 9)] * n)
    if not high_full:
        out += [[(b0, b0)] + rest for rest in _fixed_width("0" * n, b[1:])]
    return out


def _digit(lo, hi):
    if lo == hi:
        return ("lit", str(lo))
    return ("cls", ((48 + lo, 48 + hi),), False)


def _with_point(nodes, k):
    nodes = list(nodes)
    if k:
        nodes.insert(len(nodes) - k, ("lit", "."))
    return _merge_literals(nodes)


def _merge_literals(nodes):
    out = []
    for node in nodes:
        if node[0] == "lit" and out and out[-1][0] == "lit":
            out[-1] = ("lit", out[-1][1] + node[1])
        else:
            out.append(node)
    return out[0] if len(out) == 1 else ("seq", tuple(out))


def _alt(options):
    flat = []
    for option in options:
        flat.extend(option[1] if option[0] == "alt" else [option])
    return flat[0] if len(flat) == 1 else ("alt", tuple(flat))


# -- GBNF emission --------------------------------------------------------------
def _gbnf_names(rules) -> dict:
    names = {"start": "root"}
    used = {"root", "start"}
    for name in rules:
        if name == "start":
            continue
        base = name.replace("_", "-").strip("-") or "rule"
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base}-{n}"
        names[name] = candidate
        used.add(candidate)
    return names


def _escape_char(code: int, in_class: bool) -> str:
    ch = chr(code)
    if ch == "\n":
        return "\\n"
    if ch == "\t":
        return "\\t"
    if ch == "\r":
        return "\\r"
    if ch == "\\":
        return "\\\\"
    if in_class and ch in "]-^[":
        return f"\\x{code:02X}"
    if not in_class and ch == '"':
        return '\\"'
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02X}"
    return ch


def _emit(node, names, top=True) -> str:
    kind = node[0]
    if kind == "lit":
        return '"' + "".join(_escape_char(ord(c), False) for c in node[1]) + '"'
    if kind == "cls":
        body = "".join(
            _escape_char(lo, True) if lo == hi
            else f"{_escape_char(lo, True)}-{_escape_char(hi, True)}"
            for lo, hi in node[1]
        )
        return f"[{'^' if node[2] else ''}{body}]"
    if kind == "ref":
        return names[node[1]]
    if kind == "seq":
        if not node[1]:
            return '""'
        text = " ".join(_emit(child, names, top=False) for child in node[1])
        return text if top else f"({text})"
    if kind == "alt":
        text = " | ".join(_emit(child, names, top=True) for child in node[1])
        return text if top else f"({text})"
    if kind == "rep":
        return _emit_repeat(node, names, top)
    raise AssertionError(kind)  # pragma: no cover


def _emit_repeat(node, names, top) -> str:
    _, child, low, high = node
    inner = _emit(child, names, top=False)
    if child[0] == "rep":
        inner = f"({inner})"
    if high is not None and high < low:
        raise ValueError(f"Repetition ~{low}..{high} is empty.")
    if (low, high) == (0, 1):
        return f"{inner}?"
    if (low, high) == (0, None):
        return f"{inner}*"
    if (low, high) == (1, None):
        return f"{inner}+"
    if max(low, high or 0) > _MAX_EXPANDED_REPEAT:
        raise NotImplementedError(
            f"Repetition bounds above {_MAX_EXPANDED_REPEAT} are not expanded."
        )
    parts = [inner] * low
    if high is None:
        parts.append(f"{inner}*")
    else:
        optional = ""
        for _ in range(high - low):
            optional = f"({inner} {optional})?" if optional else f"({inner})?"
        if optional:
            parts.append(optional)
    if not parts:
        return '""'
    text = " ".join(parts)
    return text if top or len(parts) == 1 else f"({text})"
