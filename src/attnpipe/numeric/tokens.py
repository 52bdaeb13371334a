"""Split prompt text into tokens, label rows, and derive path-safe prompt ids."""

import hashlib
import re
import unicodedata

TOKENIZERS = ("characters", "words")

# Ids become path components and Snakemake wildcards: ASCII, no separators, no leading dot.
SAFE_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"  # also the workflow's wildcard constraint for every name
SAFE_ID = re.compile(f"^{SAFE_ID_PATTERN}$")


def tokenize(text: str, mode: str) -> list[str]:
    """Per character (the notebook's "012" -> 0, 1, 2) or whitespace-separated words."""
    if mode == "characters":
        return list(text)
    if mode == "words":
        return text.split()
    raise ValueError(f"unknown tokenizer {mode!r}; expected one of {TOKENIZERS}")


def row_labels(tokens: list[str]) -> list[str]:
    """Position-prefixed labels, unique even when tokens repeat: ['0:the', '1:cat', ..., '4:the']."""
    return [f"{i}:{tok}" for i, tok in enumerate(tokens)]


def token_of(row_label: str) -> str:
    """'4:the' -> 'the': the token of one of row_labels' labels (a label without a position, unchanged)."""
    return row_label.split(":", 1)[-1]


def is_safe_id(value: str) -> bool:
    return bool(SAFE_ID.match(value)) and ".." not in value


def derive_id(text: str, max_length: int = 100) -> str:
    """A readable, path-safe id for a prompt: 'the cat' -> 'the-cat', 'héllo' -> 'hello'.

    Text with nothing ASCII to keep gets a stable hash id ('p-1a2b3c4d'); a slug longer than `max_length`,
    or one Snakemake would refuse as periodic ('0000…'), is cut and given the hash ('0000…0-1a2b3c4d'),
    so long prompts that differ only at the end still get different ids.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9_]+", "-", ascii_text).strip("-_")
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    if not slug:
        return "p-" + digest
    if len(slug) > max_length or is_periodic(slug):
        return slug[: max_length - len(digest) - 1].rstrip("-_") + "-" + digest
    return slug


# Snakemake refuses a wildcard value ending in 20 to 100 repeats of one piece (PeriodicWildcardError,
# its PeriodicityDetector); attnpipe refuses 20 or more.
PERIODIC = re.compile(r"(.+)\1{19,}$")


def is_periodic(value: str) -> bool:
    return bool(PERIODIC.search(value))


def strip_positions(labels: list[str]) -> list[str]:
    """Row labels as attnpipe writes them ('0:the', '1:cat') back to tokens; other labels unchanged."""
    prefixes = [f"{i}:" for i in range(len(labels))]
    if all(label.startswith(prefix) for label, prefix in zip(labels, prefixes)):
        return [token_of(label) for label in labels]
    return list(labels)
