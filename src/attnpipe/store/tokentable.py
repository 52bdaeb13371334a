"""tokens.csv: a model's tokens for one prompt, beside its forward.pt, one row per position:

  position  0, 1, ...
  id        the token id the model read
  token     the tokenizer's own string for it ("Ġcat", "▁cat", "##ing", "<0xE4>")
  label     the label every stage file, the video and the pages show ("␣cat"; attnpipe.models.token_labels)

Exact: the id and the tokenizer's string as they are, UTF-8. A text cell a spreadsheet would run as a formula
("=", "-", "+", "@", ...) is written with a leading ' (attnpipe.store.spreadsheet); read_tokens takes it off.
Written whole or not at all.
"""

import csv

from .atomicfile import atomic_path
from .spreadsheet import neutralise, restore

COLUMNS = ("position", "id", "token", "label")


def write_tokens(path, tokens) -> None:
    """tokens: objects with .id, .token and .label (attnpipe.models.token_labels.Token), in position order."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for position, tok in enumerate(tokens):
            writer.writerow([position, tok.id, neutralise(tok.token), neutralise(tok.label)])


def read_tokens(path) -> list[dict]:
    """tokens.csv's rows as written: position and id as ints, token and label as text."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [{"position": int(row["position"]), "id": int(row["id"]), "token": restore(row["token"]),
                 "label": restore(row["label"])} for row in csv.DictReader(fh)]
