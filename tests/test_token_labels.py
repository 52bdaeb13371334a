"""Tokens as people read them (attnpipe.models.token_labels): the label rule on the three kinds of tokenizer
models use, each built here with the `tokenizers` library (byte-level BPE as GPT-2's, WordPiece as BERT's,
SentencePiece-style BPE with byte fallback as Llama 2's), and tokens.csv written exactly.
Needs the `hf` extra (`./run.sh test` installs it)."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_models import tokenizer  # a byte-level BPE trained on the corpus given

from attnpipe.models.token_labels import BYTE_OF, Spelling, piece_bytes, readable, spelling_of, tokens_of
from attnpipe.store.tokentable import read_tokens, write_tokens

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

CHINESE = "你好世界"  # 你 is e4 bd a0 in UTF-8


def test_bytes_read_as_text_with_whitespace_marked_and_broken_characters_as_bytes():
    assert readable(b" cat") == "␣cat"
    assert readable("你".encode()) == "你"
    assert readable("你".encode()[:2]) == "<e4 bd>"  # only part of a character
    assert readable("a你b".encode()[:2]) == "a<e4>"
    assert readable(b"\n\t  x\r") == "⏎⇥␣␣x<0d>"
    assert readable("\u200b\u3000".encode()) == "<e2 80 8b e3 80 80>"  # invisible: zero-width, ideographic space
    assert readable("مرحبا 😀".encode()) == "مرحبا␣😀"
    assert readable(b"") == "∅"


def test_byte_alphabet_is_gpt2s():
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    assert BYTE_OF == {char: byte for byte, char in bytes_to_unicode().items()}
    assert set(BYTE_OF) == set(tokenizers.pre_tokenizers.ByteLevel.alphabet())


def byte_level_bpe():
    """A GPT-2-style tokenizer: byte-level BPE whose vocabulary is too small for whole Chinese characters."""
    return tokenizer(["the cat sat on the mat", "the cat", "a cat\nsat"] * 10, vocab_size=290, bos_token=None)


def test_byte_level_bpe_gpt2_style():
    tok = byte_level_bpe()
    text = "the cat\n=1 " + CHINESE
    ids = tok(text)["input_ids"] + [tok.eos_token_id]
    tokens = tokens_of(tok, ids)
    pieces = [t.token for t in tokens]
    labels = [t.label for t in tokens]
    assert pieces == tok.convert_ids_to_tokens(ids) and [t.id for t in tokens] == ids
    assert "Ġcat" in pieces and "␣cat" in labels and "Ġcat" not in labels  # the tokenizer's string -> readable
    assert "Ċ" in pieces and "⏎" in labels
    assert labels[-1] == "<|endoftext|>"  # a special token as written
    # the pieces' bytes are the text's, exactly; each label is its token decoded alone (TransformerLens's
    # to_str_tokens) with spaces marked, or its bytes where those are no whole character
    spelling = spelling_of({"type": "ByteLevel"})
    assert b"".join(piece_bytes(p, spelling) for p in pieces[:-1]) == text.encode()
    for t in tokens[:-1]:
        alone = tok.decode([t.id], clean_up_tokenization_spaces=False)
        if "\ufffd" in alone:  # part of a character: its bytes
            assert t.label.startswith("<") and t.label.endswith(">"), t
        else:
            assert t.label == alone.replace(" ", "␣").replace("\n", "⏎"), t
    assert any(label.startswith("<e4") for label in labels)  # 你 split across tokens
    assert "ä" not in "".join(labels)  # no byte mojibake ("ä½łå¥½")


def test_wordpiece_bert_style():
    vocab = {piece: i for i, piece in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "walk", "##ing",
                                                 "##s", ",", "你", "好"])}
    tok = tokenizers.Tokenizer(tokenizers.models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = tokenizers.normalizers.BertNormalizer(lowercase=True)  # uncased; CJK characters apart
    tok.pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    tok.decoder = tokenizers.decoders.WordPiece()
    tok.post_processor = tokenizers.processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, cls_token="[CLS]", sep_token="[SEP]",
                                               unk_token="[UNK]", pad_token="[PAD]")
    ids = tok("The cat walking, 你好 dog")["input_ids"]
    assert [t.label for t in tokens_of(tok, ids)] == ["[CLS]", "the", "cat", "walk", "##ing", ",", "你", "好",
                                                      "[UNK]", "[SEP]"]


def test_sentencepiece_style_with_byte_fallback():
    """As Llama 2's and Mistral's tokenizer.json: BPE over "▁"-marked words, a byte it has no piece for as <0xE4>."""
    pieces = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256)), "▁", "t", "h", "e", "c", "a",
              "▁t", "▁th", "▁the", "ca", "cat", "▁cat"]
    merges = [("▁", "t"), ("▁t", "h"), ("▁th", "e"), ("c", "a"), ("ca", "t"), ("▁", "cat")]
    model = tokenizers.models.BPE({p: i for i, p in enumerate(pieces)}, merges, unk_token="<unk>", byte_fallback=True)
    tok = tokenizers.Tokenizer(model)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = tokenizers.decoders.Sequence([tokenizers.decoders.Replace("▁", " "),
                                                tokenizers.decoders.ByteFallback(), tokenizers.decoders.Fuse(),
                                                tokenizers.decoders.Strip(" ", 1, 0)])
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", unk_token="<unk>")
    ids = [tok.bos_token_id] + tok("the cat 你")["input_ids"]
    tokens = tokens_of(tok, ids)
    assert [t.token for t in tokens] == ["<s>", "▁the", "▁cat", "▁", "<0xE4>", "<0xBD>", "<0xA0>"]
    assert [t.label for t in tokens] == ["<s>", "␣the", "␣cat", "␣", "<e4>", "<bd>", "<a0>"]
    # the newer form of the same decoder: Metaspace
    assert spelling_of({"type": "Metaspace", "replacement": "▁"}) == Spelling(replacements=(("▁", " "),))


def test_tokens_added_as_text_and_tokenizers_without_a_decoder():
    tok = byte_level_bpe()
    tok.add_tokens(["<think>"])  # added as text, not spelt in the byte alphabet
    ids = tok("<think> the cat")["input_ids"]
    assert [t.label for t in tokens_of(tok, ids)][:2] == ["<think>", "␣the"]
    tok.backend_tokenizer.decoder = None  # no decoder: its byte-level pre-tokenizer says how pieces spell bytes
    assert [t.label for t in tokens_of(tok, tok(" the cat")["input_ids"])] == ["␣the", "␣cat"]
    # neither says: each id decoded alone
    words = tokenizers.Tokenizer(tokenizers.models.WordLevel({"[UNK]": 0, "the": 1, "cat": 2}, unk_token="[UNK]"))
    words.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    words = transformers.PreTrainedTokenizerFast(tokenizer_object=words, unk_token="[UNK]")
    ids = words("the cat dog")["input_ids"]
    assert [t.label for t in tokens_of(words, ids)] == [words.decode([i]) for i in ids] == ["the", "cat", "[UNK]"]


def test_tokens_csv_is_exact_and_runs_no_formula(tmp_path):
    tok = byte_level_bpe()
    rows = tokens_of(tok, tok("=1+2 -x @a, 'b\n" + CHINESE)["input_ids"])
    path = tmp_path / "tokens.csv"
    write_tokens(path, rows)
    back = read_tokens(path)
    assert back == [{"position": i, "id": t.id, "token": t.token, "label": t.label} for i, t in enumerate(rows)]
    cells = [cell for line in path.read_text(encoding="utf-8").splitlines()[1:] for cell in line.split(",")[2:]]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)  # each such label starts with '
    assert any(cell == "'=" for cell in cells)


# ---- a Chinese prompt's still: its labels drawn in the fonts set-up installs ------------------------------------

ZH_PROMPT = "你好，世界 猫"  # 猫 is not in the tokenizer's corpus: three byte tokens
ZH_LABELS = ["你好", "，", "世界", "␣", "<e7>", "<8c>", "<ab>"]
# fontconfig with only DejaVu's folder: the fonts a machine has before set-up (no CJK font)
HIDDEN_FONTS = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>{cache}</cachedir></fontconfig>
"""
# The outlines Pango sets for each string (json list of strings) at size 20, printed as nested lists.
SET_TYPE = """
import json, sys
from attnpipe.render.glyphs import set_type
print(json.dumps([[glyph.tolist() for glyph in set_type(s, 20)] for s in json.loads(sys.argv[1])]))
"""


def set_with_fonts_hidden(strings, tmp_path) -> list[list]:
    conf = tmp_path / "fonts.conf"
    conf.write_text(HIDDEN_FONTS.format(cache=tmp_path / "fc-cache"))
    proc = subprocess.run([sys.executable, "-c", SET_TYPE, json.dumps(strings)], capture_output=True, text=True,
                          check=False, env={**os.environ, "FONTCONFIG_FILE": str(conf)}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [[np.array(glyph) for glyph in glyphs] for glyphs in json.loads(proc.stdout.splitlines()[-1])]


def shape(glyphs) -> np.ndarray:
    """Outlines as points, moved to the origin and scaled to a unit box: a string's shape wherever it is drawn."""
    points = np.concatenate(glyphs)[:, :2]
    return (points - points.min(axis=0)) / np.ptp(points, axis=0).max()


def same_shape(drawn, glyphs, tolerance: float) -> bool:
    """The drawn points are `glyphs`' outlines, moved, scaled and maybe turned by a multiple of 90° (a column's
    label is turned)."""
    points = np.concatenate(glyphs)
    if len(drawn) != len(points):
        return False
    turns = [points[:, :2] @ np.array(m) for m in ([[1, 0], [0, 1]], [[0, 1], [-1, 0]], [[-1, 0], [0, -1]],
                                                  [[0, -1], [1, 0]])]
    return any(np.allclose(shape([drawn]), shape([turned]), atol=tolerance) for turned in turns)


def covered(char: str) -> bool:
    """Some installed font has a glyph for `char` (fontconfig's own coverage table)."""
    found = subprocess.run(["fc-list", f":charset={ord(char):x}", "family"], capture_output=True, text=True,
                           check=True).stdout
    return bool(found.strip())


def test_a_chinese_prompt_still_draws_its_labels_in_glyphs(tmp_path):
    """A tiny GPT-2 whose byte-level BPE is trained here on Chinese: the sweep labels its tokens as text (你好, not
    ä½łå¥½; a character split across tokens as its bytes), and the still draws each Chinese label with a font's
    glyphs: fontconfig finds a font for every character, and the outlines drawn are not what Pango draws with the
    fonts hidden (a box per character)."""
    from conftest import built_scenes, copy_workflow, snakemake, write_config
    from PIL import Image
    from test_models import build_model

    from attnpipe.render.glyphs import GlyphText, set_type
    from attnpipe.render.labels import STILL_SIZE
    from attnpipe.render.video import write_still

    tok = tokenizer(["你好，世界", "你好 世界", "the cat sat"] * 10, bos_token=None)
    wd = copy_workflow(tmp_path / "wf")
    build_model("gpt2", wd / "hf/zh", tok)
    write_config(wd, {"models": {"zh": {"path": "hf/zh"}}, "weights": {"zh": {"model": "zh", "layer": 0}},
                      "prompts": [{"id": "nihao", "text": ZH_PROMPT}]})
    snakemake(wd, "results/zh/nihao/attend.pt", "--cores", "2", check=True)  # what the still reads

    table = read_tokens(wd / "results/models/zh/nihao/tokens.csv")
    assert [row["label"] for row in table] == ZH_LABELS
    assert table[0]["token"] == "ä½łå¥½"  # the tokenizer's own string, kept exactly beside the label
    rows = [f"{i}:{label}" for i, label in enumerate(ZH_LABELS)]
    attention = torch.load(wd / "results/zh/nihao/attend.pt", weights_only=True)["attention"]
    assert attention["row_labels"] == rows and attention["column_labels"] == rows

    [(_, _, scene)] = built_scenes(wd, final_only=True, only=[("zh", "nihao")])
    chinese = [m for top in scene.mobjects for m in top.get_family()
               if isinstance(m, GlyphText) and re.search(r"[\u4e00-\u9fff]", m.text)]
    drawn = {m.text for m in chinese}
    assert {"你好", "世界"} <= drawn  # the labels of the maps' rows and columns
    missing = {c for text in drawn for c in text if not c.isascii() and not covered(c)}
    assert not missing, f"no font covers {sorted(missing)}: run.sh's FONT_PACKAGES are not installed"
    hidden = dict(zip(sorted(drawn), set_with_fonts_hidden(sorted(drawn), tmp_path)))
    for mob in chinese:
        assert same_shape(mob.points[:, :2], set_type(mob.text, mob.font_size), 1e-6), mob.text  # as set with fonts
        assert not same_shape(np.concatenate(set_type(mob.text, 20))[:, :2], hidden[mob.text], 1e-3), mob.text

    write_still(scene, tmp_path / "still.png")
    still = np.asarray(Image.open(tmp_path / "still.png").convert("L"))
    assert still.shape == (STILL_SIZE[1], STILL_SIZE[0])
    from manim import config
    scale = STILL_SIZE[1] / config.frame_height
    for mob in chinese:  # each label is drawn: light pixels where the scene put it
        (x0, y0), (x1, y1) = mob.points[:, :2].min(axis=0), mob.points[:, :2].max(axis=0)
        left, right = int((x0 + config.frame_width / 2) * scale), int((x1 + config.frame_width / 2) * scale) + 1
        top, bottom = int((config.frame_height / 2 - y1) * scale), int((config.frame_height / 2 - y0) * scale) + 1
        assert (still[top:bottom, left:right] > 128).any(), mob.text


def test_labels_are_text_in_the_pages(tmp_path):
    """A token's label is data: HTML-escaped in the maps' tables, a JSON string in attention.js, set as text by
    the hover tips (maps.js)."""
    from importlib.resources import files

    from attnpipe.look.colours import SCHEMES, ColourScale
    from attnpipe.report.maps import MAP_SCRIPT, heatmap_html, write_maps

    hostile = ['0:<img src=x onerror=alert(1)>', '1:</script><script>alert(2)</script>', '2:"&amp;']
    attention = {"tensor": np.full((1, 3, 3), 1 / 3), "row_labels": hostile, "column_labels": hostile}
    scale, scheme = ColourScale.of(attention["tensor"], "probability"), next(iter(SCHEMES.values()))
    html = heatmap_html(attention, [0], scale, 2, scheme)
    assert "<img" not in html and "<script" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    write_maps(tmp_path, "w/p", attention, [0], scale, scheme)
    script = (tmp_path / MAP_SCRIPT).read_text(encoding="ascii")
    payload = json.loads(script[script.index("{"):script.rindex(")")])
    assert payload["rows"] == hostile and payload["cols"] == hostile
    maps_js = files("attnpipe.report.templates").joinpath("maps.js").read_text(encoding="utf-8")
    assert "innerHTML" not in maps_js and "mapTip.textContent" in maps_js
