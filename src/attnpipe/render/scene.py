"""One Manim scene, driven by a Story. construct() reads as the storyboard; each step is a method.

Every number on screen goes through `self.number()`, which formats it with render.numbers.fmt and
records (matrix, i, j, text) in `self.shown`, so a test can check the screen against the CSVs.
Small matrices are grids of Text (with coloured cells for scores and weights); large ones become
pixel heatmaps (one ImageMobject), so render time stays bounded as prompts grow.
"""

import numpy as np
from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    WHITE,
    AnimationGroup,
    Arrow,
    Create,
    Group,
    Rectangle,
    Scene,
    Succession,
    VGroup,
    Wait,
    Write,
    config,
)

from ..tokens import token_of
from . import glyphs
from .colours import CLIP_PERCENTILES, MAX_TEXT_CELLS, SCHEMES, ColourScale
from .glyphs import GlyphText
from .labels import axis_labels, min_font, ordinal, place_labels
from .numbers import dot_product, fmt, shown_terms, term, token_label
from .result import result_panel
from .story import Story, interesting_cell, rotated_pair
from .widgets import block_outline, colour_bar, end_label, heatmap_image, number_grid

MAX_CHIPS = 24  # above this many tokens, the prompt's chips end with "… N tokens"
KEPT_MATRICES = 8  # built matrices kept for reuse (by later steps): memory stays flat as heads grow


class AttentionStory(Scene):
    def __init__(self, story: Story, precision: int = 2, scheme: str = "default", pace: float = 1.0, **kwargs):
        self.story, self.precision, self.colors = story, precision, SCHEMES[scheme]
        self.pace = pace  # every pause is multiplied by this: a lecture (publish) needs time to read
        self.shown: list[tuple[str, int, int, str]] = []
        self._matrices: dict = {}
        # the steps' numbers: the rotation (rotary models), the scores, "4 ·" scaling/mask/softmax (where
        # there is any), the output, the result
        scores = 4 if story.rotary else 3
        output = scores + (2 if self.transformations(0) else 1)
        self.step_no = {"rotate": 3, "scores": scores, "transform": scores + 1, "output": output,
                        "result": output + 1}
        super().__init__(**kwargs)

    # ---- storyboard ---------------------------------------------------------------------------

    def construct(self):
        s = self.story
        self.add_title()
        self.step_embedding()
        self.step_projections()
        if s.rotary:
            self.step_rotation()
        for head in s.show_heads:
            self.step_scores(head)
            self.step_attention(head)
        self.step_final()

    def add_title(self):
        s = self.story
        shown_text = s.text if len(s.text) <= 48 else s.text[:45] + "…"
        self.title = self.text(f"“{shown_text}”  ·  weights: {s.weights}", 26).to_edge(UP, buff=0.25)
        if self.title.width > config.frame_width - 0.6:
            self.title.scale_to_fit_width(config.frame_width - 0.6)
        self.add(self.title)

    def step_embedding(self):
        s = self.story
        shown = s.tokens[:MAX_CHIPS]
        chips = VGroup(*[self.token_chip(t) for t in shown]).arrange(RIGHT, buff=0.12)
        if len(s.tokens) > len(shown):
            chips.add(self.text(f"… {len(s.tokens)} tokens", 18))
            chips.arrange(RIGHT, buff=0.12)
        chips.scale_to_fit_width(min(chips.width, config.frame_width - 1.0))
        self.caption("1 · the prompt, split into tokens")
        chips.move_to([0, 1.6, 0])
        self.reveal(chips, wait=0.6)
        if s.hidden_states_from != "vocab":
            return self.step_given_hidden_states(chips)
        # The vocab rows this prompt uses, as X holds them (first occurrence of each token): the
        # table's numbers are the stage tensor's, and the lookup is a copy of one row into X.
        lookups = s.lookups()
        first_rows = [pos for _, pos in lookups]
        names = [":" + tok + ("*" if tok in s.unknown else "") for tok, _ in lookups]
        table = self.matrix("vocab (the rows used)", s.x[first_rows], names, None, source="hidden_states",
                            row_ids=first_rows)
        x = self.matrix("X", s.x, s.tokens, None, source="hidden_states")
        self.fit_below(Group(table, x).arrange(RIGHT, buff=1.6, aligned_edge=UP), chips)
        unknown = " (*: not in the vocab, a seeded random vector)" if s.unknown else ""
        self.caption("… each token fetches its vocab row into X, the hidden states" + unknown)
        self.reveal(table, x[0], *[lab for lab in x[1][1:]])
        row_of = {tok: r for r, (tok, _) in enumerate(lookups)}
        arrows = x.is_grid and table.is_grid  # rows to point at, not heatmaps
        for i, row in enumerate(x.rows):  # row by row, as each token fetches its vector (cuts: no copies)
            if i < len(shown):
                chips[i][0].set_stroke(self.colors["accent"], width=3)
            arrow = None
            if arrows:
                r = row_of[token_of(s.tokens[i])]
                arrow = Arrow([table[1].get_right()[0], table.rows[r].get_y(), 0],
                              [x[1].get_left()[0], row.get_y(), 0], buff=0.1, stroke_width=3,
                              color=self.colors["accent"], max_tip_length_to_length_ratio=0.12)
                self.add(arrow)
            self.add(row)
            self.pause(0.35 if len(x.rows) > 1 else 0.6)
            if arrow is not None:
                self.remove(arrow)
        self.pause(0.5)
        self.clear_stage()

    def step_given_hidden_states(self, chips):
        """The prompt brought its own hidden states (a model's layer input, say): no lookup to show."""
        s = self.story
        x = self.fit_below(self.matrix("X", s.x, s.tokens, None, source="hidden_states"), chips)
        self.caption(f"… its hidden states X, one row per token, read from {s.hidden_states_from}")
        self.reveal(x, wait=1.5)
        self.clear_stage()

    def token_chip(self, row_label: str) -> VGroup:
        label = self.text(token_label(row_label), 20)
        box = Rectangle(width=max(0.45, label.width + 0.2), height=0.45, stroke_width=1.5, stroke_color="#888888")
        return VGroup(box, label.move_to(box))

    def step_projections(self):
        s = self.story
        d_cols = [f"d{i}" for i in range(s.w["query"].shape[1])]
        x = self.matrix("X", s.x, s.tokens, None, source="hidden_states")
        w = self.matrix("W_q", s.w["query"], None, d_cols, source="w_query")
        q = self.matrix("Q", s.q, s.tokens, None, source="queries")
        row = self.equation(x, "·", w, "=", q)
        self.caption("2 · project: Q = X · W_q" + (" + b_q" if np.any(s.b["query"]) else ""))
        self.reveal(row, wait=0.3)
        i, j = interesting_cell(s.x, s.w["query"], s.q, self.precision)
        terms = shown_terms(s.x.shape[1])
        self.record([("hidden_states", i, k, s.x[i, k]) for k in terms]
                    + [("w_query", k, j, s.w["query"][k, j]) for k in terms]
                    + [("queries", i, j, s.q[i, j])]
                    + ([("b_query", 0, j, s.b["query"][j])] if s.b["query"][j] else []))
        self.highlight_dot(x, i, w, j, q,
                           dot_product(f"Q[{i},{j}]", s.x[i], s.w["query"][:, j], s.q[i, j], self.precision,
                                       s.b["query"][j]))
        self.clear_stage()
        k = self.matrix("K = X·W_k", s.k, s.tokens, None, source="keys")
        v = self.matrix("V = X·W_v", s.v, s.tokens, None, source="values")
        q2 = self.matrix("Q", s.q, s.tokens, None, source="queries")
        grouped = f" ({s.kv_heads} K/V heads for {s.heads} query heads: grouped-query attention)"
        self.caption("… and the same for keys and values" + (grouped if s.grouped else ""))
        self.reveal(self.equation(q2, "", k, "", v), wait=0.8)
        self.clear_stage()

    def step_rotation(self):
        """Rotary position embedding (Llama family): Q and K turned per position by the cos and sin the model's
        attention layers received, each head's block alike; one rotated pair written out in numbers. Shown
        for the first head walked through (and the K/V head it reads)."""
        s = self.story
        head, half = s.show_heads[0], s.d_head // 2
        tag, off = self.head_tag(head), head * s.d_head
        q = self.matrix("Q" + tag, s.head_columns(s.q, head), s.tokens, None, source="queries", col_offset=off)
        cos = self.matrix("cos", s.rope_cos, s.tokens, None, source="rope_cos")
        sin = self.matrix("sin", s.rope_sin, s.tokens, None, source="rope_sin")
        q_rot = self.matrix("Q_rot" + tag, s.head_columns(s.q_rot, head), s.tokens, None, source="queries_rotated",
                            col_offset=off)
        i, k = rotated_pair(s.head_columns(s.q, head), s.rope_sin, self.precision)
        pair = (k, k + half)
        a, b = (s.q[i, off + c] for c in pair)
        rotated = [s.q_rot[i, off + c] for c in pair]
        (cos0, sin0), (cos1, sin1) = ((s.rope_cos[i, c], s.rope_sin[i, c]) for c in pair)
        self.record([("queries", i, off + c, s.q[i, off + c]) for c in pair]
                    + [(name, i, c, table[i, c]) for c in pair
                       for name, table in (("rope_cos", s.rope_cos), ("rope_sin", s.rope_sin))]
                    + [("queries_rotated", i, off + c, v) for c, v in zip(pair, rotated)])
        p, j = self.precision, k + half
        lines = self.text_lines([
            f"position {i} ({token_label(s.tokens[i])}): dimensions {k} and {j} turn as a pair",
            f"Q_rot[{i},{k}] = Q[{i},{k}]·cos − Q[{i},{j}]·sin = {term(a, p)}×{term(cos0, p)} − "
            f"{term(b, p)}×{term(sin0, p)} = {fmt(rotated[0], p)}",
            f"Q_rot[{i},{j}] = Q[{i},{j}]·cos + Q[{i},{k}]·sin = {term(b, p)}×{term(cos1, p)} + "
            f"{term(a, p)}×{term(sin1, p)} = {fmt(rotated[1], p)}"])
        self.caption(f"{self.step_no['rotate']} · rotate by position (RoPE): Q_rot = Q·cos + rotate_half(Q)·sin")
        row = self.equation(q, "→", Group(cos, sin).arrange(DOWN, buff=0.25), "→", q_rot)
        self.reveal(self.fit_below(row, self._caption, buff=0.3, bottom_margin=lines.height + 0.6), wait=0.3)
        self.highlight_cells([(m, i, pair) for m in (q, cos, sin, q_rot)], lines, wait=2.0)
        self.clear_stage()
        k_block, k_off = s.kv_columns(s.k, head)
        keys = self.matrix("K" + self.kv_tag(head), k_block, s.tokens, None, source="keys", col_offset=k_off)
        k_rot = self.matrix("K_rot" + self.kv_tag(head), s.kv_columns(s.k_rot, head)[0], s.tokens, None,
                            source="keys_rotated", col_offset=k_off)
        self.caption("… and K the same way, with the same cos and sin (V is not rotated)" + self.reads(head, ": "))
        self.reveal(self.equation(keys, "→", k_rot), wait=0.8)
        self.clear_stage()

    def step_scores(self, head: int):
        s = self.story
        tag = self.head_tag(head)
        (q_source, q_all), (k_source, k_all) = s.scored
        rot = "_rot" if s.rotary else ""
        off = head * s.d_head
        qh, (kh, k_off) = s.head_columns(q_all, head), s.kv_columns(k_all, head)
        q = self.matrix(f"Q{rot}" + tag, qh, s.tokens, None, source=q_source, col_offset=off)
        kt = self.matrix(f"K{rot}ᵀ" + self.kv_tag(head), kh.T, None, s.tokens, source=f"{k_source}.T",
                         row_offset=k_off)
        sc = self.matrix("scores", s.scores[head], s.tokens, s.tokens, kind="signed", source=f"scores[{head}]")
        self.caption(f"{self.step_no['scores']} · scores = Q{rot} · K{rot}ᵀ: how well each query matches each key"
                     + tag + self.reads(head, "; "))
        self.reveal(self.equation(q, "·", kt, "=", sc), wait=0.3)
        i, j = interesting_cell(qh, kh.T, s.scores[head], self.precision)
        terms = shown_terms(s.d_head)
        self.record([(q_source, i, off + k, qh[i, k]) for k in terms]
                    + [(k_source, j, k_off + k, kh[j, k]) for k in terms]
                    + [(f"scores[{head}]", i, j, s.scores[head][i, j])])
        self.highlight_dot(q, i, kt, j, sc,
                           dot_product(f"score[{i},{j}]", qh[i], kh[j], s.scores[head][i, j], self.precision))
        self.clear_stage()

    def transformations(self, head: int) -> list[tuple]:
        """(title, values, kind, source) of what step 4 does to the scores: scale and mask (one stage
        tensor, scaled_scores, titled by both), softmax."""
        s = self.story
        steps = []
        done_to_scores = [f"scaled {s.scale_label()}"] if s.scale_label() else []
        if s.options["causal"]:
            window = s.options.get("window")  # a sliding window (Mistral): only the last few
            done_to_scores.append("masked: a token sees only itself and earlier ones" if window is None
                                  else f"masked: a token sees only itself and the {window - 1} before it")
        if done_to_scores:
            steps.append((", ".join(done_to_scores), s.scaled[head], "signed", "scaled_scores"))
        if s.options["softmax"]:
            steps.append(("softmax: each row sums to 1", s.attn[head], "probability", "attention"))
        return steps

    def step_attention(self, head: int):
        s = self.story
        steps = self.transformations(head)
        parts = []
        for title, values, kind, source in steps[-2:]:  # the last two transformations fit side by side
            parts.append(self.matrix(title, values, s.tokens, s.tokens, kind=kind, source=f"{source}[{head}]"))
        if parts:
            self.caption(f"{self.step_no['transform']} · " + " → ".join(t for t, *_ in steps))
            self.reveal(self.equation(*[p for part in parts for p in (part, "→")][:-1]), wait=1.0)
            self.clear_stage()
        tag = self.head_tag(head)
        a = self.matrix("weights" + tag, s.attn[head], s.tokens, s.tokens, kind=s.weights_kind,
                        source=f"attention[{head}]")
        v_block, v_off = s.kv_columns(s.v, head)
        vh = self.matrix("V" + self.kv_tag(head), v_block, s.tokens, None, source="values", col_offset=v_off)
        out = self.matrix("output", s.head_columns(s.output, head), s.tokens, None, source="output",
                          col_offset=head * (s.output.shape[1] // s.heads))
        self.caption(f"{self.step_no['output']} · output = weights · V: each token's mix of the values it attends to")
        self.reveal(self.equation(a, "·", vh, "=", out), wait=1.0)
        self.clear_stage()

    def step_final(self):
        """The result, which stays: the frame the still (attention.png) is drawn from (result.py)."""
        self.caption(f"{self.step_no['result']} · the result: who attends to whom")
        panel = result_panel(self, self._caption.get_bottom()[1] - 0.25, MAX_TEXT_CELLS)
        self.reveal(panel, wait=2.0)  # the last frame holds the result: no fade-out

    # ---- helpers ------------------------------------------------------------------------------

    def head_tag(self, head: int) -> str:
        # numbered from 0, as in the config (render: {heads}), the CSVs (h0/…) and the gallery
        return f" (head {head} of 0–{self.story.heads - 1})" if self.story.heads > 1 else ""

    def kv_tag(self, head: int) -> str:
        """' (K/V head 1)' on the K and V that query `head` reads, with grouped-query attention."""
        return f" (K/V head {self.story.kv_of[head]})" if self.story.grouped else ""

    def reads(self, head: int, lead: str) -> str:
        """'head 3 reads K/V head 1' after `lead`, with grouped-query attention (as the CSVs' 'h3(kv1)/')."""
        return f"{lead}head {head} reads K/V head {self.story.kv_of[head]}" if self.story.grouped else ""

    def fit_below(self, mobject, anchor, buff=0.4, side_margin=1.0, bottom_margin=0.8):
        """Shrink `mobject` (never enlarge) to the frame's width and the room under `anchor`; put it there."""
        mobject.scale_to_fit_width(min(mobject.width, config.frame_width - side_margin))
        room = anchor.get_bottom()[1] + config.frame_height / 2 - bottom_margin
        if mobject.height > room:
            mobject.scale_to_fit_height(room)
        return mobject.next_to(anchor, DOWN, buff=buff)

    def pause(self, seconds: float):
        self.wait(seconds * self.pace)

    def show(self, *animations, wait: float = 0.0, run_time: float = 0.6):
        """Play `animations` over `run_time`, then hold their last frame `wait` (times the pace) in the same
        play: each play redraws the whole screen once (Manim's static frame), a separate wait() again."""
        played = AnimationGroup(*animations, run_time=run_time)
        self.play(Succession(played, Wait(wait * self.pace)) if wait else played)

    def caption(self, text: str):
        if getattr(self, "_caption", None) is not None:
            self.remove(self._caption)
        self._caption = self.text(text, 20, "#dddddd").next_to(self.title, DOWN, buff=0.2)
        if self._caption.width > config.frame_width - 0.4:
            self._caption.scale_to_fit_width(config.frame_width - 0.4)
        self.add(self._caption)

    # Fades go through a black curtain over the stage: FadeIn/FadeOut would deep-copy every mobject
    # they touch (most of the render time for a few hundred numbers); the curtain is one rectangle.
    def curtain(self, opacity: float) -> Rectangle:
        top = self.title.get_bottom()[1] - 0.5
        if getattr(self, "_caption", None) is not None:
            top = min(top, self._caption.get_bottom()[1] - 0.02)
        height = top + config.frame_height / 2
        cover = Rectangle(width=config.frame_width, height=height, stroke_width=0)
        # Below the caption, so the caption stays lit without a z-index: the curtain, added last, is then the
        # only mobject Manim draws frame by frame while it fades (it redraws all that comes after the first
        # moving mobject in drawing order, and a z-index would sort title and caption after it).
        cover.set_fill("#000000", opacity=opacity).move_to([0, top - height / 2, 0])
        return cover

    def reveal(self, *mobjects, wait: float = 0.0, run_time: float = 0.4):
        cover = self.curtain(1.0)
        self.add(*mobjects, cover)
        self.show(cover.animate.set_fill(opacity=0.0).build(), wait=wait, run_time=run_time)
        self.remove(cover)

    def clear_stage(self, run_time: float = 0.3):
        keep = {self.title, getattr(self, "_caption", None)}
        leaving = [m for m in self.mobjects if m not in keep]
        if leaving:
            cover = self.curtain(0.0)
            self.add(cover)
            self.show(cover.animate.set_fill(opacity=1.0).build(), run_time=run_time)
            self.remove(*leaving, cover)

    def record(self, entries):
        """Note numbers written inside a sentence (a dot product's terms) as shown: (source, i, j, value)."""
        self.shown.extend((source, i, j, fmt(float(v), self.precision)) for source, i, j, v in entries)

    def number(self, value: float, source: str, i: int, j: int, size: float, color=WHITE) -> GlyphText:
        text = fmt(float(value), self.precision)
        self.shown.append((source, i, j, text))
        return self.text(text, size, color)

    def text(self, text: str, size: float, color=WHITE) -> GlyphText:
        """Every string on screen: set by Pango once per (string, size) in any render (the glyph cache),
        a fresh copy each call without deepcopy; any script, right-to-left included."""
        return glyphs.text(text, size, color)

    def derived(self, value: float, statistic: str, source: str, rows, cols, size: float) -> GlyphText:
        """A number computed from a block of a stage tensor (a colour bar's clipped end: a percentile), not
        a stage value itself: recorded as (f"{statistic}({source})", row ids, column ids, text), so a test can
        recompute it from the CSV."""
        text = fmt(float(value), self.precision)
        self.shown.append((f"{statistic}({source})", tuple(rows), tuple(cols), text))
        return self.text(text, size)

    def matrix(self, title, values, rows, cols, kind="plain", source=None, row_offset=0, col_offset=0,
               row_ids=None):
        """A titled grid of `values` with optional row/column labels; `.rows` are its text rows.
        Cell (i, j) is `source`'s (row_ids[i] or i + row_offset, j + col_offset): what the fidelity
        record names.

        Built once per scene and reused by later steps (re-laid out under the curtain): building and
        copying Text is most of the render time.
        """
        key = (title, source, row_offset, col_offset)
        if key in self._matrices:
            out = self._matrices.pop(key)
            self._matrices[key] = out  # most recently used last
            return out.scale_to_fit_height(out.natural_height)
        row_ids = list(row_ids) if row_ids is not None else [i + row_offset for i in range(len(values))]
        out = self._build_matrix(title, values, rows, cols, kind, source or title, row_ids, col_offset)
        out.natural_height = out.height
        self._matrices[key] = out
        while len(self._matrices) > KEPT_MATRICES:  # a head's matrices are not reused by the next head
            self._matrices.pop(next(iter(self._matrices)))
        return out

    def _build_matrix(self, title, values, rows, cols, kind, source, row_ids, col_offset):
        values = np.asarray(values, dtype=float)
        n, m = values.shape
        scale = ColourScale.of(values, kind)
        big = max(n, m) > MAX_TEXT_CELLS
        cell = min(0.6, 3.6 / max(n, m, 1))
        if big:
            # each side as long as a grid's would be, up to the same bound: a 8 x 384 X (a real model's
            # hidden states) is a readable block, not a hairline
            body = heatmap_image(scale.rgb(values, self.colors), min(0.6 * m, 3.6), min(0.48 * n, 0.8 * 3.6))
            text_rows = [body]
        else:
            rgb = None if kind == "plain" else scale.rgb(values, self.colors)  # plain numbers: white on black
            numbers = [[self.number(values[i, j], source, row_ids[i], j + col_offset, size=min(20, cell * 30))
                        for j in range(m)] for i in range(n)]
            width = max(cell, max(t.width for row in numbers for t in row) + 0.1)  # the widest number fits
            body = text_rows = number_grid(numbers, rgb, width, cell * 0.8)
        group = Group(body)
        # token labels beside every row (and above columns), heatmaps included, thinned where they would
        # overlap; sized for the row pitch, never below the still's smallest legible size
        # (a grid's rows are 0.8 of a cell apart: its labels as large as its columns')
        for labels, is_rows, pitch in ((rows, True, body.height / n), (cols, False, body.width / m)):
            if labels is not None:
                size = max(min_font(), min(18, pitch * (37.5 if is_rows else 30)))
                axis = axis_labels(self.text, labels, pitch, size, rows=is_rows)
                group.add(place_labels(axis, body).texts)
        if big:  # a heatmap without numbers needs its own scale
            bar = self.matrix_bar(values, scale, (source, row_ids, col_offset), height=body.height,
                                  width=max(0.06, min(0.25, body.width / 3)))  # never wider than the data
            group.add(bar.next_to(body, RIGHT, buff=0.15).align_to(body, UP))
        heading = self.text(title, 20, self.colors["accent"]).next_to(group, UP, buff=0.15)
        out = Group(heading, group)
        out.body, out.rows, out.n, out.m, out.is_grid = body, text_rows, n, m, not big
        return out

    def equation(self, *parts):
        items = [self.text(p, 30) if isinstance(p, str) else p for p in parts if not (isinstance(p, str) and not p)]
        row = Group(*items).arrange(RIGHT, buff=0.3)
        row.scale_to_fit_width(min(row.width, config.frame_width - 0.6))
        if row.height > config.frame_height - 2.6:
            row.scale_to_fit_height(config.frame_height - 2.6)
        row.move_to([0, -0.4, 0])
        return row

    def highlight_dot(self, a, i, b, j, product, text):
        """Outline row i of `a`, column j of `b` and product cell (i, j), grids and heatmaps alike; write
        the arithmetic below."""
        accent = self.colors["accent"]
        marks = [block_outline(a.body, a.n, a.m, range(i, i + 1), range(a.m), accent),
                 block_outline(b.body, b.n, b.m, range(b.n), range(j, j + 1), accent),
                 block_outline(product.body, product.n, product.m, range(i, i + 1), range(j, j + 1), accent)]
        arithmetic = self.text(text, 22).to_edge(DOWN, buff=0.4)
        if arithmetic.width > config.frame_width - 0.4:
            arithmetic.scale_to_fit_width(config.frame_width - 0.4)
        self.show(*[Create(m) for m in marks], Write(arithmetic), wait=1.2)

    def text_lines(self, lines: list[str], size: float = 20) -> VGroup:
        """Lines of text flush left, as wide as the frame allows, at the bottom of the frame."""
        text = VGroup(*[self.text(line, size) for line in lines]).arrange(DOWN, aligned_edge=LEFT, buff=0.12)
        return text.scale_to_fit_width(min(text.width, config.frame_width - 0.4)).to_edge(DOWN, buff=0.3)

    def highlight_cells(self, cells, text, wait: float = 1.2):
        """Outline cells (matrix, row, columns), grids and heatmaps alike, and write `text`, in one play."""
        accent = self.colors["accent"]
        marks = [block_outline(m.body, m.n, m.m, range(i, i + 1), range(c, c + 1), accent)
                 for m, i, columns in cells for c in columns]
        self.show(*[Create(m) for m in marks], Write(text), wait=wait)

    def matrix_bar(self, values: np.ndarray, scale: ColourScale, source, height: float, width: float):
        """A heatmap's colour bar, its ends labelled and recorded: `source` = (name, row_ids, col_offset)."""
        name, row_ids, col_offset = source
        size = 18 if height >= 2 else 12

        def cell(i, j):
            return name, row_ids[i], j + col_offset

        columns = range(col_offset, col_offset + values.shape[1])
        top, bottom = self.scale_ends(values, scale, cell, (name, row_ids, columns), size)
        masked = None if np.all(np.isfinite(values)) else self.text("−∞", size)
        return colour_bar(scale, self.colors, height, width, top, bottom, masked)

    def scale_ends(self, values: np.ndarray, scale: ColourScale, cell, block, size: float):
        """The labels of a colour bar's ends (top, bottom), recorded as shown. An extreme is a stage value,
        recorded where it is: `cell(*index)` -> (source, i, j); a clipped end is a percentile of the block of
        the stage tensor shown, `block` = (source, row ids, column ids), recorded as derived from it and
        tagged on the bar; a probability scale starts at 0, its floor."""
        finite = np.where(np.isfinite(values), values, np.nan)

        def extreme(index):
            return end_label(self.number(values[tuple(np.unravel_index(index, values.shape))],
                                         *cell(*np.unravel_index(index, values.shape)), size))

        def percentile(value, which):
            p = CLIP_PERCENTILES[which]
            tag = self.text(f"{ordinal(p)} percentile", max(min_font(), 12), "#bbbbbb")
            return end_label(self.derived(value, f"p{p}", *block, size), tag)

        top = percentile(scale.hi, 1) if scale.clipped else extreme(np.nanargmax(finite))
        if scale.kind == "probability":
            bottom = end_label(self.text("0", size))
        else:
            bottom = percentile(scale.lo, 0) if scale.clipped else extreme(np.nanargmin(finite))
        return top, bottom
