"""Text cells a spreadsheet must not run: a cell starting with = + - @, a tab or a CR is written with a leading '
(OWASP's CSV-injection advice) and read back without it. summary.csv, heads.csv and each model's tokens.csv."""

import re

# A cell a spreadsheet would take as a formula, after any quotes we added before (so the quoting is
# undone exactly: text that really starts with "'=" keeps its quote).
FORMULA_START = re.compile(r"'*[=+\-@\t\r]")


def neutralise(cell):
    """Prefix ' to text a spreadsheet would run as a formula; numbers and other text unchanged."""
    return "'" + cell if isinstance(cell, str) and FORMULA_START.match(cell) else cell


def restore(cell: str) -> str:
    """The inverse of neutralise, for a cell read back as text."""
    return cell[1:] if cell.startswith("'") and FORMULA_START.match(cell) else cell
