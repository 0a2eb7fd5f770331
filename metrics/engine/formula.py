"""The KPI formula language: a small, safe arithmetic language over measure names.

    formula  := sum
    sum      := product (("+" | "-") product)*
    product  := unary (("*" | "/") unary)*
    unary    := ("-" | "+") unary | atom
    atom     := NUMBER | NAME | NAME "(" formula ("," formula)* ")" | "(" formula ")"

Names are the KPI's measures. Functions come from a registry (`FUNCTIONS`):
`prev(x)` is `x` over the preceding period, `min`, `max`, `abs`, `if_null(x, y)`
(y when x has no value) and `positive(x)` (x when x > 0, else no value — e.g. a growth
rate has no value when the previous revenue is not positive).

The parser is a tokenizer and a recursive-descent parser: nothing is ever passed to
`eval`, there are no attributes, strings, exponents or calls other than the registry,
and sizes are bounded. Values are `Decimal` or `None` ("no value"); any operation on
`None` gives `None`, and so does a division by zero.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

MAX_FORMULA_LENGTH = 1000
MAX_NUMBER_LENGTH = 30
MAX_DEPTH = 40

# Generous precision; an overflow or invalid operation yields "no value", never an error.
CONTEXT = decimal.Context(prec=40, Emax=10_000, Emin=-10_000, traps=[decimal.InvalidOperation, decimal.Overflow])


class FormulaError(ValueError):
    """A formula is not valid; the message says what is wrong and where."""


Value = Decimal | None
# lookup(name, periods_back) -> the measure's value `periods_back` periods before the current one
Lookup = Callable[[str, int], Value]


# --------------------------------------------------------------------------- tokens

TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?|\.\d+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>[-+*/(),])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # number | name | op | end
    text: str
    position: int


def tokenize(text: str) -> list[Token]:
    """Split a formula into tokens; refuse any character outside the language."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = TOKEN_RE.match(text, position)
        if match is None:
            raise FormulaError(f"Unexpected character {text[position]!r} at position {position + 1}.")
        kind = match.lastgroup or ""
        if kind == "number" and len(match.group()) > MAX_NUMBER_LENGTH:
            raise FormulaError(f"Number too long at position {position + 1} (at most {MAX_NUMBER_LENGTH} characters).")
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# --------------------------------------------------------------------------- tree


@dataclass(frozen=True)
class Number:
    value: Decimal


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Negate:
    operand: Node


@dataclass(frozen=True)
class BinaryOp:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]


Node = Number | Name | Negate | BinaryOp | Call


# --------------------------------------------------------------------------- functions


def _min(values: Sequence[Value]) -> Value:
    return None if any(v is None for v in values) else min(values)  # type: ignore[type-var]


def _max(values: Sequence[Value]) -> Value:
    return None if any(v is None for v in values) else max(values)  # type: ignore[type-var]


def _abs(values: Sequence[Value]) -> Value:
    return None if values[0] is None else abs(values[0])


def _if_null(values: Sequence[Value]) -> Value:
    return values[1] if values[0] is None else values[0]


def _positive(values: Sequence[Value]) -> Value:
    return values[0] if values[0] is not None and values[0] > 0 else None


@dataclass(frozen=True)
class Function:
    """A function of the language: its arity and its implementation over evaluated arguments."""

    min_args: int
    max_args: int | None
    apply: Callable[[Sequence[Value]], Value] | None
    help: str


# `prev` is special: it shifts the period its argument is evaluated in (apply=None).
FUNCTIONS: dict[str, Function] = {
    "prev": Function(1, 1, None, "prev(x): x over the preceding period"),
    "min": Function(2, None, _min, "min(a, b, …): the smallest value"),
    "max": Function(2, None, _max, "max(a, b, …): the largest value"),
    "abs": Function(1, 1, _abs, "abs(x): the absolute value"),
    "if_null": Function(2, 2, _if_null, "if_null(x, y): y when x has no value"),
    "positive": Function(1, 1, _positive, "positive(x): x when x > 0, else no value"),
}


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        if self.current.text != text or self.current.kind != "op":
            raise FormulaError(f"Expected {text!r} at position {self.current.position + 1}, found {self._describe()}.")
        self.advance()

    def _describe(self) -> str:
        return "the end of the formula" if self.current.kind == "end" else repr(self.current.text)

    def parse(self) -> Node:
        if self.current.kind == "end":
            raise FormulaError("The formula is empty.")
        node = self.sum()
        if self.current.kind != "end":
            raise FormulaError(f"Unexpected {self._describe()} at position {self.current.position + 1}.")
        return node

    def sum(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError(f"The formula is nested too deeply (at most {MAX_DEPTH} levels).")
        node = self.product()
        while self.current.kind == "op" and self.current.text in "+-":
            op = self.advance().text
            node = BinaryOp(op, node, self.product())
        self.depth -= 1
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.current.kind == "op" and self.current.text in "*/":
            op = self.advance().text
            node = BinaryOp(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.current.kind == "op" and self.current.text in "+-":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise FormulaError(f"The formula is nested too deeply (at most {MAX_DEPTH} levels).")
            op = self.advance().text
            operand = self.unary()
            self.depth -= 1
            return Negate(operand) if op == "-" else operand
        return self.atom()

    def atom(self) -> Node:
        token = self.current
        if token.kind == "number":
            self.advance()
            return Number(Decimal(token.text))
        if token.kind == "name":
            self.advance()
            if self.current.kind == "op" and self.current.text == "(":
                return self.call(token)
            return Name(token.text)
        if token.kind == "op" and token.text == "(":
            self.advance()
            node = self.sum()
            self.expect(")")
            return node
        raise FormulaError(
            f"Expected a number, a measure or '(' at position {token.position + 1}, found {self._describe()}."
        )

    def call(self, name: Token) -> Node:
        function = FUNCTIONS.get(name.text)
        if function is None:
            known = ", ".join(sorted(FUNCTIONS))
            raise FormulaError(f"Unknown function {name.text!r} at position {name.position + 1} (functions: {known}).")
        self.expect("(")
        args = [self.sum()]
        while self.current.kind == "op" and self.current.text == ",":
            self.advance()
            args.append(self.sum())
        self.expect(")")
        if len(args) < function.min_args or (function.max_args is not None and len(args) > function.max_args):
            raise FormulaError(f"Wrong number of arguments to {name.text}(): {function.help}.")
        return Call(name.text, tuple(args))


# --------------------------------------------------------------------------- compiled formula


def _names(node: Node) -> set[str]:
    if isinstance(node, Name):
        return {node.name}
    if isinstance(node, Negate):
        return _names(node.operand)
    if isinstance(node, BinaryOp):
        return _names(node.left) | _names(node.right)
    if isinstance(node, Call):
        return set().union(*(_names(arg) for arg in node.args))
    return set()


def _prev_depth(node: Node) -> int:
    if isinstance(node, Negate):
        return _prev_depth(node.operand)
    if isinstance(node, BinaryOp):
        return max(_prev_depth(node.left), _prev_depth(node.right))
    if isinstance(node, Call):
        inner = max(_prev_depth(arg) for arg in node.args)
        return inner + 1 if node.function == "prev" else inner
    return 0


def _lookups(node: Node, back: int = 0) -> set[tuple[str, int]]:
    if isinstance(node, Name):
        return {(node.name, back)}
    if isinstance(node, Negate):
        return _lookups(node.operand, back)
    if isinstance(node, BinaryOp):
        return _lookups(node.left, back) | _lookups(node.right, back)
    if isinstance(node, Call):
        shift = back + 1 if node.function == "prev" else back
        return set().union(*(_lookups(arg, shift) for arg in node.args))
    return set()


def _evaluate(node: Node, lookup: Lookup, back: int) -> Value:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Name):
        return lookup(node.name, back)
    if isinstance(node, Negate):
        value = _evaluate(node.operand, lookup, back)
        return None if value is None else CONTEXT.minus(value)
    if isinstance(node, BinaryOp):
        left = _evaluate(node.left, lookup, back)
        right = _evaluate(node.right, lookup, back)
        if left is None or right is None:
            return None
        if node.op == "/":
            return None if right == 0 else CONTEXT.divide(left, right)
        return {"+": CONTEXT.add, "-": CONTEXT.subtract, "*": CONTEXT.multiply}[node.op](left, right)
    if not isinstance(node, Call):  # the parser builds no other node
        raise TypeError(f"unknown formula node {node!r}")
    if node.function == "prev":
        return _evaluate(node.args[0], lookup, back + 1)
    apply = FUNCTIONS[node.function].apply
    if apply is None:  # only prev() has no apply, and it is handled above
        raise TypeError(f"function {node.function} cannot be evaluated")
    return apply([_evaluate(arg, lookup, back) for arg in node.args])


@dataclass(frozen=True)
class Formula:
    """A parsed formula: the measure names it reads and how many periods back it looks."""

    source: str
    tree: Node

    @property
    def names(self) -> frozenset[str]:
        return frozenset(_names(self.tree))

    @property
    def prev_depth(self) -> int:
        """How many preceding periods the formula reads (1 for `prev(x)`)."""
        return _prev_depth(self.tree)

    @property
    def lookups(self) -> frozenset[tuple[str, int]]:
        """Every (measure, periods back) the formula reads."""
        return frozenset(_lookups(self.tree))

    def evaluate(self, lookup: Lookup) -> Value:
        """The formula's value, or None when it has none (missing input, division by zero, overflow)."""
        try:
            return _evaluate(self.tree, lookup, 0)
        except (decimal.InvalidOperation, decimal.Overflow, ArithmeticError):
            return None


def formula_parse(text: str) -> Formula:
    """Parse a formula; raise FormulaError with a clear message when it is not valid."""
    if not isinstance(text, str):
        raise FormulaError("The formula must be text.")
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(f"The formula is too long (at most {MAX_FORMULA_LENGTH} characters).")
    return Formula(text, _Parser(text).parse())


def formula_validate(text: str, *, measure_names: set[str] | frozenset[str]) -> Formula:
    """Parse a formula and check that every name it reads is one of `measure_names`."""
    formula = formula_parse(text)
    unknown = sorted(formula.names - set(measure_names))
    if unknown:
        known = ", ".join(sorted(measure_names)) or "none"
        plural = "s" if len(unknown) > 1 else ""
        raise FormulaError(f"Unknown measure{plural} {', '.join(unknown)} (measures of this KPI: {known}).")
    return formula
