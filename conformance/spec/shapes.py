"""Symbolic shapes and small expressions of the spec, parsed without eval.

Grammar (lowest precedence first)::

    expr       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := arith (("==" | "!=" | "<" | "<=" | ">" | ">=") arith)*     # chained, as in Python
    arith      := term (("+" | "-") term)*
    term       := unary (("*" | "/" | "//" | "%") unary)*
    unary      := "-" unary | power
    power      := atom ("**" unary)?
    atom       := INT | FLOAT | NAME | STRING | "null" | "true" | "false" | "(" expr ")"

A shape is a list of integer expressions: ``[batch, seq, hidden_size]`` or ``[batch * num_choices, seq]``.
In integer expressions ``/`` is exact division: ``hidden_size / num_attention_heads`` must divide evenly.

Evaluation is bounded (the spec folder may be hostile): the text length, the nesting, every intermediate
integer and string, exponents, shape dimensions and repeat counts have limits (the MAX_* constants below);
going past one is a ShapeError, never a hang.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "Expr",
    "ShapeError",
    "evaluate",
    "evaluate_count",
    "evaluate_expr",
    "parse_expr",
    "parse_shape",
    "symbols",
]


class ShapeError(ValueError):
    """A shape or expression that does not parse or cannot be evaluated."""


# --- limits --------------------------------------------------------------------------------------------------
# The longest real expression (a constraint joining five comparisons with `and`) has about 120 characters.
MAX_EXPR_CHARS = 256
# Parentheses, unary operators and `**` chains nest at most 2 deep in the real spec; the parser recurses
# about ten Python frames per level, so 16 stays far from the interpreter's recursion limit.
MAX_EXPR_DEPTH = 16
# Every intermediate integer fits in int64: no tensor size, index or config value is larger, and keeping
# operands this small is what makes `**` and `*` cost microseconds instead of hours.
MAX_EXPR_INT = 2**63 - 1
# Strings in expressions are enum values ("absolute", "single_label_classification"); 256 is plenty.
MAX_EXPR_STR = 256
# A tensor dimension indexes with int32 in most frameworks; a larger one is a typo or an attack.
MAX_DIM = 2**31 - 1
# Repeat counts expand state-dict key templates once per layer; real models have at most a few hundred.
MAX_REPEAT_COUNT = 1024


# --- syntax tree -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Const:
    value: int | float | str | bool | None


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Unary:
    op: str  # "-" or "not"
    operand: Expr


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / // % ** and or
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Compare:
    operands: tuple[Expr, ...]
    ops: tuple[str, ...]


Expr = Const | Name | Unary | Binary | Compare

# --- tokenizer ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<float>\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)
      | (?P<int>\d+)
      | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
      | (?P<string>"[^"]*")
      | (?P<op>\*\*|//|==|!=|<=|>=|[-+*/%<>()])
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "null", "true", "false"}


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise ShapeError(
                f"unexpected character {text[pos:].lstrip()[0]!r} at column {pos + 1} in {text!r}"
            )
        kind = match.lastgroup
        value, start = match.group(kind), match.start(kind)
        if kind == "name" and value in _KEYWORDS:
            kind = "keyword"
        tokens.append((kind, value, start))
        pos = match.end()
    tokens.append(("end", "", len(text)))
    return tokens


# --- parser (recursive descent) ----------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    def nested(self, parse: Callable[[], Expr]) -> Expr:
        """Parse one level deeper; a bound on nesting keeps the recursion (and _eval's) shallow."""
        self.depth += 1
        if self.depth > MAX_EXPR_DEPTH:
            raise ShapeError(f"expression nested deeper than {MAX_EXPR_DEPTH} levels")
        try:
            return parse()
        finally:
            self.depth -= 1

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, str, int]:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def accept(self, *values: str) -> str | None:
        kind, value, _ = self.peek()
        if kind in ("op", "keyword") and value in values:
            self.i += 1
            return value
        return None

    def fail(self, what: str) -> ShapeError:
        kind, value, pos = self.peek()
        found = "end of expression" if kind == "end" else repr(value)
        return ShapeError(f"expected {what}, found {found} at column {pos + 1} in {self.text!r}")

    def parse(self) -> Expr:
        if self.peek()[0] == "end":
            raise ShapeError("empty expression")
        expr = self.or_expr()
        if self.peek()[0] != "end":
            raise self.fail("an operator or the end")
        return expr

    def or_expr(self) -> Expr:
        left = self.and_expr()
        while self.accept("or"):
            left = Binary("or", left, self.and_expr())
        return left

    def and_expr(self) -> Expr:
        left = self.not_expr()
        while self.accept("and"):
            left = Binary("and", left, self.not_expr())
        return left

    def not_expr(self) -> Expr:
        if self.accept("not"):
            return Unary("not", self.nested(self.not_expr))
        return self.comparison()

    def comparison(self) -> Expr:
        operands, ops = [self.arith()], []
        while op := self.accept("==", "!=", "<", "<=", ">", ">="):
            ops.append(op)
            operands.append(self.arith())
        return Compare(tuple(operands), tuple(ops)) if ops else operands[0]

    def arith(self) -> Expr:
        left = self.term()
        while op := self.accept("+", "-"):
            left = Binary(op, left, self.term())
        return left

    def term(self) -> Expr:
        left = self.unary()
        while op := self.accept("*", "/", "//", "%"):
            left = Binary(op, left, self.unary())
        return left

    def unary(self) -> Expr:
        if self.accept("-"):
            return Unary("-", self.nested(self.unary))
        return self.power()

    def power(self) -> Expr:
        base = self.atom()
        if self.accept("**"):
            return Binary("**", base, self.nested(self.unary))
        return base

    def atom(self) -> Expr:
        kind, value, _ = self.peek()
        if kind in ("int", "float"):
            self.take()
            return Const(_literal(value, kind))
        if kind == "string":
            self.take()
            return Const(value[1:-1])
        if kind == "name":
            self.take()
            return Name(value)
        if kind == "keyword" and value in ("null", "true", "false"):
            self.take()
            return Const({"null": None, "true": True, "false": False}[value])
        if self.accept("("):
            inner = self.nested(self.or_expr)
            if not self.accept(")"):
                raise self.fail("')'")
            return inner
        raise self.fail("a number, a name or '('")


def _literal(text: str, kind: str) -> int | float:
    value: int | float = int(text) if kind == "int" else float(text)
    return _bounded(value, f"the literal {text[:40]}")


@lru_cache(maxsize=4096)
def parse_expr(text: str) -> Expr:
    """Parse one expression (``num_hidden_layers + 1``, ``hidden_size % num_attention_heads == 0``)."""
    if not isinstance(text, str):
        raise ShapeError(f"an expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_EXPR_CHARS:
        raise ShapeError(
            f"expression longer than {MAX_EXPR_CHARS} characters ({len(text)}): {text[:40]!r}..."
        )
    return _Parser(text).parse()


def _is_integer_expr(expr: Expr) -> bool:
    if isinstance(expr, Const):
        return type(expr.value) is int
    if isinstance(expr, Name):
        return True
    if isinstance(expr, Unary):
        return expr.op == "-" and _is_integer_expr(expr.operand)
    if isinstance(expr, Binary):
        return (
            expr.op in ("+", "-", "*", "/", "//", "%", "**")
            and _is_integer_expr(expr.left)
            and _is_integer_expr(expr.right)
        )
    return False


def parse_shape(shape: str | Sequence[str | int]) -> tuple[Expr, ...]:
    """Parse a shape given as a YAML list (``[batch, seq]``) or as its text (``"[batch, seq]"``).

    Every dimension must be an integer expression (names, integers and + - * / // % **).
    """
    if isinstance(shape, str):
        text = shape.strip()
        if not (text.startswith("[") and text.endswith("]")):
            raise ShapeError(f"a shape must be written [dim, ...], got {shape!r}")
        inner = text[1:-1].strip()
        dims: list[str | int] = [d.strip() for d in inner.split(",")] if inner else []
    elif isinstance(shape, Sequence):
        dims = list(shape)
    else:
        raise ShapeError(f"a shape must be a list of dimensions, got {type(shape).__name__}")
    parsed = []
    for index, dim in enumerate(dims):
        if isinstance(dim, bool) or not isinstance(dim, (int, str)):
            raise ShapeError(f"dimension {index} must be an integer or an expression, got {dim!r}")
        expr = Const(dim) if isinstance(dim, int) else parse_expr(dim)
        if not _is_integer_expr(expr):
            raise ShapeError(f"dimension {index} ({dim!r}) is not an integer expression")
        parsed.append(expr)
    return tuple(parsed)


def symbols(item: str | Expr | Sequence[Any]) -> frozenset[str]:
    """Names used by an expression, its text, or a shape (text, YAML list, or parsed tuple)."""
    if isinstance(item, str):
        item = parse_shape(item) if item.lstrip().startswith("[") else parse_expr(item)
    if isinstance(item, Name):
        return frozenset([item.id])
    if isinstance(item, Const):
        return frozenset()
    if isinstance(item, Unary):
        return symbols(item.operand)
    if isinstance(item, Binary):
        return symbols(item.left) | symbols(item.right)
    if isinstance(item, Compare):
        return frozenset().union(*(symbols(o) for o in item.operands))
    if isinstance(item, Sequence):
        exprs = item if _is_parsed(tuple(item)) else parse_shape(item)
        return frozenset().union(*(symbols(e) for e in exprs))
    raise ShapeError(f"not an expression: {item!r}")


# --- evaluation --------------------------------------------------------------------------------------------


def _exact_div(a: Any, b: Any) -> Any:
    if b == 0:
        raise ShapeError("division by zero")
    if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool):
        if a % b:
            raise ShapeError(f"{a} / {b} is not an integer")
        return a // b
    return a / b


def _checked(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        if b == 0 and fn in (operator.floordiv, operator.mod):
            raise ShapeError("division by zero")
        return fn(a, b)

    return apply


_BINARY: Mapping[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _exact_div,
    "//": _checked(operator.floordiv),
    "%": _checked(operator.mod),
    "**": operator.pow,
}
_COMPARE: Mapping[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _bounded(value: Any, what: str) -> Any:
    """``value`` if it is within the limits (int64, finite, short strings); ``what`` names it in the error."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and abs(value) > MAX_EXPR_INT:
        raise ShapeError(f"{what} is larger than the integer bound 2**63 - 1")
    if isinstance(value, float) and not math.isfinite(value):
        raise ShapeError(f"{what} is not a finite number ({value})")
    if isinstance(value, complex):
        raise ShapeError(f"{what} is not a real number")
    if isinstance(value, str) and len(value) > MAX_EXPR_STR:
        raise ShapeError(f"{what} is a string longer than {MAX_EXPR_STR} characters")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _precheck(op: str, left: Any, right: Any) -> None:
    """Refuse, before computing it, a result too large to compute quickly (the bound checks it after)."""
    if op == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        # |left| ** right >= 2 ** ((bit_length - 1) * right): past the bound without computing it.
        if (abs(left).bit_length() - 1) * right > MAX_EXPR_INT.bit_length():
            raise ShapeError(f"{left} ** {right} is larger than the integer bound 2**63 - 1")
    if op == "*" and isinstance(left, str) != isinstance(right, str):
        text, count = (left, right) if isinstance(left, str) else (right, left)
        if _is_number(count) and len(text) * max(count, 0) > MAX_EXPR_STR:
            raise ShapeError(f"string repeated {count} times is longer than {MAX_EXPR_STR} characters")
    if op in ("%", "//", "/", "**", "-") and not (_is_number(left) and _is_number(right)):
        # `"%999999999d" % 1` would format a gigabyte; only + and * make sense on strings.
        raise ShapeError(f"cannot apply {op!r} to {type(left).__name__} and {type(right).__name__}")


def _apply(op: str, left: Any, right: Any) -> Any:
    _precheck(op, left, right)
    try:
        return _bounded(_BINARY[op](left, right), f"the result of {op!r}")
    except TypeError as exc:
        raise ShapeError(f"cannot apply {op!r}: {exc}") from None
    except ZeroDivisionError:
        raise ShapeError("division by zero") from None
    except OverflowError as exc:
        raise ShapeError(f"{op!r} overflows: {exc}") from None


def _negate(value: Any) -> Any:
    if not _is_number(value):
        raise ShapeError(f"cannot negate {type(value).__name__} {value!r}")
    return -value


def _eval(expr: Expr, env: Mapping[str, Any]) -> Any:
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Name):
        if expr.id not in env:
            known = ", ".join(sorted(env)) or "none"
            raise ShapeError(f"unknown symbol {expr.id!r} (known: {known})")
        return env[expr.id]
    if isinstance(expr, Unary):
        value = _eval(expr.operand, env)
        return (not value) if expr.op == "not" else _negate(value)
    if isinstance(expr, Binary):
        left = _eval(expr.left, env)
        if expr.op == "and":
            return left and _eval(expr.right, env)
        if expr.op == "or":
            return left or _eval(expr.right, env)
        return _apply(expr.op, left, _eval(expr.right, env))
    values = [_eval(o, env) for o in expr.operands]
    try:
        return all(_COMPARE[op](a, b) for op, a, b in zip(expr.ops, values, values[1:]))
    except TypeError as exc:
        raise ShapeError(f"cannot compare: {exc}") from None


def evaluate_expr(expr: str | Expr, env: Mapping[str, Any]) -> Any:
    """Value of an expression given values for its names."""
    return _eval(parse_expr(expr) if isinstance(expr, str) else expr, env)


def evaluate_count(expr: str | Expr, env: Mapping[str, Any]) -> int:
    """A repeat count (``num_hidden_layers``): an integer from 0 to MAX_REPEAT_COUNT."""
    value = evaluate_expr(expr, env)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ShapeError(f"a repeat count must be an integer, got {value!r}")
    if not 0 <= value <= MAX_REPEAT_COUNT:
        raise ShapeError(f"repeat count {value} is outside 0..{MAX_REPEAT_COUNT}")
    return value


def evaluate(shape: str | Sequence[Any], env: Mapping[str, int]) -> tuple[int, ...]:
    """Concrete shape: ``evaluate("[batch, seq, hidden_size]", {...}) == (2, 7, 32)``."""
    exprs = parse_shape(shape) if not _is_parsed(shape) else tuple(shape)
    dims = []
    for index, expr in enumerate(exprs):
        value = _eval(expr, env)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ShapeError(f"dimension {index} evaluates to {value!r}, not an integer")
        if value < 0:
            raise ShapeError(f"dimension {index} evaluates to {value}, a negative size")
        if value > MAX_DIM:
            raise ShapeError(f"dimension {index} evaluates to {value}, above the size bound 2**31 - 1")
        dims.append(value)
    return tuple(dims)


def _is_parsed(shape: Any) -> bool:
    return isinstance(shape, tuple) and all(
        isinstance(x, (Const, Name, Unary, Binary, Compare)) for x in shape
    )
