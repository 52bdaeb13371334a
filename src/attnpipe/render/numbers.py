"""The display rule for every number on screen: integers as integers, other values rounded to
`precision` decimals with trailing zeros dropped, never "-0"; masked scores (-inf) as "−∞"."""

import math


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


def dot_product(name: str, row: list[float], col: list[float], result: float, precision: int,
                bias: float | None = None) -> str:
    """'q[1,0] = (−2)×2 + 1×4 + 0×(−2) = 0': the terms are the displayed inputs, the result the stage value."""
    terms = [f"{term(a, precision)}×{term(b, precision)}" for a, b in zip(row, col)]
    if bias is not None and bias != 0:
        terms.append(term(bias, precision))
    return f"{name} = {' + '.join(terms)} = {fmt(result, precision)}"


def token_label(row_label: str) -> str:
    """'4:the' -> 'the'; whitespace made visible ('␣'), since an empty label cannot be drawn."""
    token = row_label.split(":", 1)[-1]
    return token.replace(" ", "␣").replace("\t", "⇥").replace("\n", "⏎") or "∅"
