"""The symbolic shape / expression parser: good expressions evaluate like arithmetic, bad ones raise
ShapeError with a message that says what is wrong. Expected values are worked out by hand or by Python
arithmetic on the same numbers, never by the parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bert_conformance.spec.shapes import (
    MAX_DIM,
    MAX_EXPR_CHARS,
    MAX_EXPR_DEPTH,
    MAX_EXPR_INT,
    MAX_EXPR_STR,
    MAX_REPEAT_COUNT,
    ShapeError,
    evaluate,
    evaluate_count,
    evaluate_expr,
    parse_expr,
    parse_shape,
    symbols,
)

ENV = {
    "batch": 2,
    "seq": 7,
    "past_seq": 3,
    "hidden_size": 32,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_choices": 3,
    "vocab_size": 99,
}


@pytest.mark.parametrize(
    "shape,expected",
    [
        ("[batch, seq, hidden_size]", (2, 7, 32)),
        (["batch", "seq", "hidden_size"], (2, 7, 32)),
        (["batch * num_choices", "seq"], (6, 7)),
        (
            ["batch", "num_attention_heads", "seq", "past_seq + seq", "hidden_size / num_attention_heads"],
            (2, 4, 7, 10, 8),
        ),
        ([2, "hidden_size"], (2, 32)),
        ("[]", ()),
        ([], ()),
        (["(batch + 1) * 2", "hidden_size // 5", "hidden_size % 5"], (6, 6, 2)),
        (["2 ** 3 ** 2"], (512,)),  # ** is right-associative, as in Python
        (["-seq + 10"], (3,)),
    ],
)
def test_good_shapes_evaluate(shape, expected):
    assert evaluate(shape, ENV) == expected


@pytest.mark.parametrize(
    "expr,expected",
    [
        ("num_hidden_layers + 1", 3),
        ("hidden_size / num_attention_heads", 8),
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("10 - 4 - 3", 3),  # left-associative
        ("hidden_size % num_attention_heads == 0", True),
        ("0 <= seq <= 7", True),
        ("0 <= seq < 7", False),
        ("seq > 1 and not batch == 3", True),
        ("seq == 1 or batch == 2", True),
        ("past_seq != null", True),
        ('"regression" == "regression"', True),
        ("1.5 * 2", 3.0),
        ("true", True),
    ],
)
def test_good_expressions_evaluate(expr, expected):
    value = evaluate_expr(expr, ENV)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("", "empty expression"),
        ("batch +", "expected a number, a name or '('"),
        ("(batch + 1", "expected ')'"),
        ("batch seq", "expected an operator or the end"),
        ("batch.size", "unexpected character '.'"),
        ("__import__('os').system('x')", "unexpected character"),
        ("batch ; seq", "unexpected character ';'"),
        ("* 2", "expected a number, a name or '('"),
    ],
)
def test_bad_syntax_raises(text, fragment):
    with pytest.raises(ShapeError, match=None) as info:
        parse_expr(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "shape,env,fragment",
    [
        ("[batch, sequence]", ENV, "unknown symbol 'sequence'"),
        ("[hidden_size / 5]", ENV, "32 / 5 is not an integer"),
        ("[seq // 0]", ENV, "division by zero"),
        ("[seq - 10]", ENV, "negative size"),
        ("[batch, 1.5]", ENV, "is not an integer expression"),
        ("[seq == 7]", ENV, "is not an integer expression"),
        ("batch, seq", ENV, "must be written [dim, ...]"),
        ("[batch,]", ENV, "empty expression"),
        ([True], ENV, "must be an integer or an expression"),
        ([None], ENV, "must be an integer or an expression"),
        (42, ENV, "must be a list of dimensions"),
    ],
)
def test_bad_shapes_raise(shape, env, fragment):
    with pytest.raises(ShapeError) as info:
        evaluate(shape, env)
    assert fragment in str(info.value)


def test_unknown_symbol_message_lists_known_symbols():
    with pytest.raises(ShapeError, match=r"known: a, b"):
        evaluate_expr("c + 1", {"a": 1, "b": 2})


def test_symbols_of_shapes_and_expressions():
    assert symbols("[batch, past_seq + seq, 4]") == {"batch", "past_seq", "seq"}
    assert symbols("hidden_size % num_attention_heads == 0") == {"hidden_size", "num_attention_heads"}
    assert symbols(parse_shape(["batch * num_choices"])) == {"batch", "num_choices"}


def test_parse_is_not_eval():
    """Names are looked up only in the environment given, never in Python's namespace."""
    with pytest.raises(ShapeError, match="unknown symbol 'len'"):
        evaluate_expr("len", {})


# --- bounds: every limit is reached exactly, and one step past it is a ShapeError, at once ---------------


@pytest.mark.parametrize(
    "expr,expected",
    [
        ("2 ** 62 + (2 ** 62 - 1)", MAX_EXPR_INT),
        ("-(2 ** 62) - (2 ** 62 - 1)", -MAX_EXPR_INT),
        ("(" * MAX_EXPR_DEPTH + "1" + ")" * MAX_EXPR_DEPTH, 1),
        ("1" + " " * (MAX_EXPR_CHARS - 1), 1),
        ('"ab" * 128', "ab" * (MAX_EXPR_STR // 2)),
        ("1 ** 999999999999", 1),
        ("(-1) ** 999999999999", -1),
        ("2 ** -1", 0.5),
    ],
)
def test_values_at_the_bounds_evaluate(expr, expected):
    assert evaluate_expr(expr, ENV) == expected


@pytest.mark.timeout(5)
@pytest.mark.parametrize(
    "expr,fragment",
    [
        ("2 ** 62 * 2", "the result of '*' is larger than the integer bound 2**63 - 1"),
        ("9 ** 9 ** 9", "9 ** 387420489 is larger than the integer bound"),
        ("hidden_size ** hidden_size ** hidden_size", "32 ** 32 is larger than the integer bound"),
        ("9223372036854775808", "the literal 9223372036854775808 is larger than the integer bound"),
        ("1e999", "the literal 1e999 is not a finite number"),
        ("1e300 * 1e300", "the result of '*' is not a finite number"),
        ("2.0 ** 99999", "'**' overflows"),
        ("0 ** -1", "division by zero"),
        ("(-8) ** 0.5", "the result of '**' is not a real number"),
        ('"ab" * 129', "string repeated 129 times is longer than 256 characters"),
        ('"a" * 10 ** 18', "string repeated 1000000000000000000 times"),
        ('"%0999999999d" % 1', "cannot apply '%' to str and int"),
        ('"a" - "b"', "cannot apply '-' to str and str"),
        ('-"a"', "cannot negate str 'a'"),
        ("(" * (MAX_EXPR_DEPTH + 1) + "1" + ")" * (MAX_EXPR_DEPTH + 1), "nested deeper than 16 levels"),
        ("- " * (MAX_EXPR_DEPTH + 1) + "1", "nested deeper than 16 levels"),
        ("not " * (MAX_EXPR_DEPTH + 1) + "true", "nested deeper than 16 levels"),
        ("2 ** " * (MAX_EXPR_DEPTH + 1) + "1", "nested deeper than 16 levels"),
        ("1" + " " * MAX_EXPR_CHARS, "expression longer than 256 characters"),
    ],
)
def test_values_past_the_bounds_raise(expr, fragment):
    with pytest.raises(ShapeError) as info:
        evaluate_expr(expr, ENV)
    assert fragment in str(info.value)


def test_dimension_and_count_bounds():
    assert evaluate([f"{MAX_DIM}"], {}) == (MAX_DIM,)
    with pytest.raises(
        ShapeError, match=r"dimension 0 evaluates to 2147483648, above the size bound 2\*\*31 - 1"
    ):
        evaluate([f"{MAX_DIM} + 1"], {})
    assert [evaluate_count(str(n), {}) for n in (0, MAX_REPEAT_COUNT)] == [0, MAX_REPEAT_COUNT]
    for count, message in [
        (f"{MAX_REPEAT_COUNT} + 1", "repeat count 1025 is outside 0..1024"),
        ("-1", "repeat count -1 is outside 0..1024"),
        ("2 ** 40", "repeat count 1099511627776 is outside 0..1024"),
        ("1.0", "a repeat count must be an integer, got 1.0"),
        ("true", "a repeat count must be an integer, got True"),
    ]:
        with pytest.raises(ShapeError) as info:
            evaluate_count(count, {})
        assert str(info.value) == message


# --- property: the evaluator agrees with Python integer arithmetic on random expression trees --------------

_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


@st.composite
def _expression(draw, depth: int = 3) -> tuple[str, int]:
    """(text, value): the value is computed alongside the text, so the test does not parse anything."""
    if depth == 0 or draw(st.booleans()):
        if draw(st.booleans()):
            name = draw(st.sampled_from(sorted(ENV)))
            return name, ENV[name]
        number = draw(st.integers(min_value=0, max_value=50))
        return str(number), number
    op = draw(st.sampled_from(sorted(_OPS)))
    left_text, left = draw(_expression(depth - 1))
    right_text, right = draw(_expression(depth - 1))
    return f"({left_text} {op} {right_text})", _OPS[op](left, right)


@given(_expression())
def test_random_expressions_match_python_arithmetic(case):
    text, value = case
    assert evaluate_expr(text, ENV) == value
