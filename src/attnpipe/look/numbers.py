"""The display rule for every number on screen: integers as integers, other values rounded to
`precision` decimals with trailing zeros dropped, never "-0"; masked scores (-inf) as "−∞"."""

import math

from ..numeric.tokens import token_of


def fmt(value: float, precision: int = 2) -> str:
    if math.isinf(value):
        return "−∞" if value < 0 else "∞"
    if float(value).is_integer():
        text = str(int(value))
    else:
        text = f"{value:.{precision}f}".rstrip("0").rstrip(".")
    if text.lstrip("-") in ("0", ""):  # -0.001 at 2 decimals is "0", not "-0"
        return "0"
    return text.replace("-", "−")  # a real minus sign reads better than a hyphen


def term(value: float, precision: int) -> str:
    """A factor inside a written-out sum: negatives in parentheses, "(−2)"."""
    text = fmt(value, precision)
    return f"({text})" if text.startswith("−") else text


MAX_TERMS = 6  # a longer dot product shows its first three terms, "…", and its last


def shown_terms(n: int) -> list[int]:
    """Which of a dot product's n terms are written out (all, up to MAX_TERMS)."""
    return list(range(n)) if n <= MAX_TERMS else [0, 1, 2, n - 1]


def dot_product(name: str, row: list[float], col: list[float], result: float, precision: int,
                bias: float | None = None) -> str:
    """'q[1,0] = (−2)×2 + 1×4 + 0×(−2) = 0': the terms are the displayed inputs, the result the stage value.
    With more than MAX_TERMS terms: 'q[0,1] = 1×2 + 3×1 + 0×5 + … + 2×2 = 12  (384 terms)'."""
    keep = shown_terms(len(row))
    terms = [f"{term(row[k], precision)}×{term(col[k], precision)}" for k in keep]
    if len(keep) < len(row):
        terms.insert(3, "…")
    if bias is not None and bias != 0:
        terms.append(term(bias, precision))
    count = f"  ({len(row)} terms)" if len(keep) < len(row) else ""
    return f"{name} = {' + '.join(terms)} = {fmt(result, precision)}{count}"


def token_label(row_label: str) -> str:
    """'4:the' -> 'the'; whitespace made visible ('␣'), since an empty label cannot be drawn."""
    return token_of(row_label).replace(" ", "␣").replace("\t", "⇥").replace("\n", "⏎") or "∅"
