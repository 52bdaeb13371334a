"""A model's tokens as people read them: each id's own text (as TransformerLens's to_str_tokens decodes one id at
a time), made visible. These labels are the row labels of every stage file ("3:␣cat") and what the video, the
still and the pages show; tokens.csv keeps each id and the tokenizer's own string beside its label
(attnpipe.store.tokentable).

The label rule:
  ␣ ⏎ ⇥          a space, a newline, a tab: "␣cat" is " cat", the leading space of a word's token
  <e4 bd>        bytes that are not a whole UTF-8 character (byte-level BPE and SentencePiece's byte
                 fallback split a character across tokens), and invisible characters (other controls,
                 other spaces, format characters such as U+200B), as their UTF-8 bytes in hex
  [CLS] <s>      a special token as written
  ##ing          a WordPiece continuation piece keeps its "##" (BERT's own sign that it continues the word
                 before; a piece without it starts a word, wherever the prompt had a space)
  ∅              a token with no text
How a token's bytes are read, by its tokenizer's decoder, pre-tokenizer and model (tokenizer.json's "decoder",
"pre_tokenizer", "model"):
  ByteLevel      GPT-2, Llama 3, Qwen: each byte is spelt by one character of GPT-2's byte-to-unicode
                 alphabet ("Ġ" is the space byte, "Ċ" the newline), mapped back to the byte
  Metaspace, Replace("▁", " "), ByteFallback
                 SentencePiece (Llama 2, Mistral): "▁" is a space, "<0xE4>" the byte e4
  WordPiece      BERT, MiniLM: the piece is its text
A token added to the vocabulary as text (tokenizer.json's added_tokens) is that text. A tokenizer none of these
describe: each id decoded alone (tokenizer.decode); a partial character then shows as "�".

In models/, not numeric/: it reads a Hugging Face tokenizer's own description of its pieces; the rest
(bytes -> label) is plain Python, tested on all three kinds of tokenizer.
"""

import json
import re
import unicodedata
from dataclasses import dataclass

MARKS = {" ": "␣", "\n": "⏎", "\t": "⇥"}  # as attnpipe.look.numbers.token_label shows a toy token's whitespace
EMPTY = "∅"
# Categories drawn as their bytes: controls, format characters (zero-width), line/paragraph separators and
# every space but U+0020 (no glyph, or one that looks like nothing)
INVISIBLE = {"Cc", "Cf", "Zl", "Zp", "Zs"}
BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")  # SentencePiece's byte fallback


@dataclass(frozen=True)
class Token:
    """One position of a prompt: the id, the tokenizer's own string for it, and the label shown."""

    id: int
    token: str
    label: str


@dataclass(frozen=True)
class Spelling:
    """How a tokenizer's pieces spell bytes: byte-level BPE's alphabet, or text with a space sign ("▁") and
    byte-fallback pieces ("<0xE4>")."""

    byte_level: bool = False
    byte_fallback: bool = False
    replacements: tuple[tuple[str, str], ...] = ()


def byte_alphabet() -> dict[str, int]:
    """GPT-2's bytes_to_unicode, reversed: the character that spells each byte -> the byte. Printable Latin-1
    bytes spell themselves; the other 68 (controls, space, ...) are the characters from U+0100 on, in order."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    moved = [b for b in range(256) if b not in kept]
    return {**{chr(b): b for b in kept}, **{chr(256 + n): b for n, b in enumerate(moved)}}


BYTE_OF = byte_alphabet()


def _steps(entry: dict | None) -> list[dict]:
    """A tokenizer.json decoder or pre-tokenizer as its steps (a Sequence's, flattened)."""
    if not entry:
        return []
    inner = entry.get("decoders") or entry.get("pretokenizers")
    return [step for part in inner for step in _steps(part)] if inner else [entry]


def spelling_of(decoder: dict | None, pre_tokenizer: dict | None = None, model: dict | None = None) -> Spelling | None:
    """The Spelling that tokenizer.json's "decoder" and "pre_tokenizer" entries and its model ({"type",
    "byte_fallback"}) describe; None where they describe none this module knows."""
    parts = _steps(decoder) + _steps(pre_tokenizer)
    types = {part.get("type") for part in parts} | {(model or {}).get("type")}
    if "ByteLevel" in types:
        return Spelling(byte_level=True)
    replacements = tuple(dict.fromkeys(
        [(part.get("replacement", "▁"), " ") for part in parts if part.get("type") == "Metaspace"]
        + [(part["pattern"]["String"], part["content"]) for part in parts
           if part.get("type") == "Replace" and "String" in part.get("pattern", {})]))
    byte_fallback = "ByteFallback" in types or bool((model or {}).get("byte_fallback"))
    if replacements or byte_fallback or "WordPiece" in types:
        return Spelling(byte_fallback=byte_fallback, replacements=replacements)
    return None


def piece_bytes(piece: str, spelling: Spelling) -> bytes:
    """The bytes a vocabulary piece stands for."""
    if spelling.byte_level:
        return b"".join(bytes([BYTE_OF[c]]) if c in BYTE_OF else c.encode() for c in piece)
    if spelling.byte_fallback and (byte := BYTE_PIECE.fullmatch(piece)):
        return bytes([int(byte.group(1), 16)])
    for sign, text in spelling.replacements:
        piece = piece.replace(sign, text)
    return piece.encode()


def readable(data: bytes) -> str:
    """Bytes as a label: UTF-8 text with its whitespace marked; bytes that are no whole character, and
    invisible characters, as "<e4 bd>" (one group per run)."""
    out, pending = [], bytearray()

    def flush():
        if pending:
            out.append("<" + " ".join(f"{b:02x}" for b in pending) + ">")
            pending.clear()

    for ch in data.decode("utf-8", errors="surrogateescape"):  # a byte that is no character -> U+DC80 + byte
        if "\udc80" <= ch <= "\udcff":
            pending.append(ord(ch) - 0xDC00)
        elif ch not in MARKS and unicodedata.category(ch) in INVISIBLE:
            pending.extend(ch.encode())
        else:
            flush()
            out.append(MARKS.get(ch, ch))
    flush()
    return "".join(out) or EMPTY


def label_of(piece: str, spelling: Spelling | None, special: bool = False, added: str | None = None,
             decoded: str | None = None) -> str:
    """The label of one token: `special` as written; `added` (a token added as text): that text; else its
    piece read by `spelling`; with no spelling, `decoded` (the id decoded alone)."""
    if special:
        return readable(piece.encode())
    if added is not None:
        return readable(added.encode())
    if spelling is not None:
        return readable(piece_bytes(piece, spelling))
    return readable((decoded if decoded is not None else piece).encode())


def tokenizer_spelling(tokenizer) -> Spelling | None:
    """How a transformers tokenizer's pieces spell bytes, from its tokenizers backend (None: a slow tokenizer)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    decoder, pre_tokenizer = (json.loads(step.__getstate__()) if step is not None else None
                              for step in (backend.decoder, backend.pre_tokenizer))
    model = {"type": type(backend.model).__name__, "byte_fallback": getattr(backend.model, "byte_fallback", False)}
    return spelling_of(decoder, pre_tokenizer, model)


def tokens_of(tokenizer, ids: list[int]) -> list[Token]:
    """Each id of a prompt with the tokenizer's own string and its label (the rule above)."""
    spelling = tokenizer_spelling(tokenizer)
    added = {i: t for i, t in tokenizer.added_tokens_decoder.items()}
    special = set(tokenizer.all_special_ids) | {i for i, t in added.items() if t.special}
    tokens = []
    for i, piece in zip(ids, tokenizer.convert_ids_to_tokens(ids), strict=True):
        decoded = None if spelling else tokenizer.decode([i], clean_up_tokenization_spaces=False)
        label = label_of(piece, spelling, special=i in special,
                         added=added[i].content if i in added else None, decoded=decoded)
        tokens.append(Token(int(i), piece, label))
    return tokens
