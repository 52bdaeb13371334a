"""The storyboard: one Manim scene, driven by a Story. construct() reads as the story (title → tokens and X →
Q = X·W_q → K, V → [rotation] → one head in detail → the result, every head shown); each step is a method
here (the rotation: rotation.py, the result: result.py), given what it shows as arguments: no step leaves
state on the scene for another. What the steps say about the story (step numbers, head tags): wording.py.

Every number on screen goes through `self.number()`, which formats it with render.numbers.fmt and records
(matrix, i, j, text) in `self.shown`, so a test can check the screen against the CSVs; every string on
screen at every play is recorded with the size it is drawn at (`self.drawn`, transitions.py). Matrices are
planned before they are built (plan.py: which rows and columns, what sizes, how large in the room the frame
leaves: every number where they fit at the preview's readable size, else elided, ⋯ ⋮, the cells a step points
at always in view) and built once from the plan (matrix_view.py). The moves between steps are transitions.py's.
"""

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, Arrow, Create, Group, Rectangle, VGroup, Write, config

from ..look.colours import SCHEMES
from ..look.numbers import dot_product, fmt, shown_terms, token_label
from ..numeric.tokens import token_of
from .glyphs import measure
from .labels import VIDEO, digit_size, dims, positions, short_label, token_rows
from .matrix_view import MatrixViews
from .plan import MatrixSpec, Planner
from .result import result_panel
from .rotation import rotation_steps
from .story import Story, interesting_cell
from .transitions import HOLD, HOLD_WRITTEN, SIDE_MARGIN, Transitions
from .wording import head_card, head_tag, kv_tag, one_head, reads, step_numbers, transformations

OPERATOR_FONT = 1.5  # operators (·, =, →) this many times the smallest font
BUFF = 0.2  # units between the parts of an equation
SET_ABOVE_MIN = 1.0  # matrices planned with numbers and labels at the video's smallest legible size (10.5 px)


class AttentionStory(Transitions):
    def __init__(self, story: Story, precision: int = 2, scheme: str = "default", pace: float = 1.0, **kwargs):
        self.story, self.precision, self.colors = story, precision, SCHEMES[scheme]
        self.pace = pace
        self.shown: list[tuple[str, int, int, str]] = []
        self.setup_record()
        self.views = MatrixViews(self)
        self.planner = Planner(VIDEO.font() * SET_ABOVE_MIN, digit_size(), precision, measure)
        self.step_no = step_numbers(story)
        super().__init__(**kwargs)

    # ---- storyboard ---------------------------------------------------------------------------

    def construct(self):
        s = self.story
        self.add_title()
        self.step_embedding()
        self.step_projections()
        if s.rotary:
            rotation_steps(self, s, s.detail_heads[0], self.step_no["rotate"])
        for head in s.detail_heads:
            if s.heads > 1:
                self.card(head_card(s, head), self.colors["accent"])
            focus_row = self.step_scores(head)
            self.step_attention(head, focus_row)
        self.step_final()

    def add_title(self):
        self.title = self.make_title(VIDEO.font() * 1.15)
        self.add(self.title)

    def make_title(self, font: float):
        """The prompt's text (as many whole words as fit) and the weight setting's name, at the top."""
        s = self.story
        width = config.frame_width - 2 * SIDE_MARGIN
        tail = f"  ·  weights: {s.weights}"
        words = s.text.split(" ")
        # the most words that fit, never part of one: from an estimate (a 300-word prompt is not set 300 times)
        fits = int(width / (digit_size()[1] * font) - len(tail) - 4)
        start = max(1, min(len(words), len(" ".join(words)[:fits].split(" "))))
        for count in range(start, 0, -1):
            shown = " ".join(words[:count]) + ("" if count == len(words) else " …")
            title = self.text(f"“{shown}”{tail}", font)
            if title.width <= width:
                break
        else:  # one word (a prompt without spaces) too long for the line: cut it, said with "…"
            chars = max(1, int(len(s.text) * (width - self.text(tail, font).width) / title.width) - 3)
            title = self.text(f"“{s.text[:chars]}…”{tail}", font)
        return title.to_edge(UP, buff=0.2)

    def step_embedding(self):
        s = self.story
        chips = self.chips(s.tokens)
        given = s.hidden_states_from != "vocab"
        unknown = " (*: not in the vocab, a seeded random vector)" if s.unknown else ""
        then = (f"… its hidden states X, one row per token, read from {s.hidden_states_from}" if given
                else "… each token fetches its vocab row into X, the hidden states" + unknown)
        # the chips stay while the caption changes: placed under the longer of the two captions
        self.caption("1 · the prompt, split into tokens")
        below = min(self.stage_top(), self.caption_lines(then).get_bottom()[1])
        chips.move_to([0, below - 0.3 - chips.height / 2, 0])
        self.reveal(chips, wait=1.0)
        self.caption(then)
        if given:
            return self.step_given_hidden_states(chips)
        # The vocab rows this prompt uses, as X holds them (first occurrence of each token): the
        # table's numbers are the stage tensor's, and the lookup is a copy of one row into X.
        lookups = s.lookups()
        first_rows = [pos for _, pos in lookups]
        names = [":" + short_label(tok) + ("*" if tok in s.unknown else "") for tok, _ in lookups]
        d_cols = dims(s.x.shape[1])
        table, x = self.equation(
            dict(title="vocab (the rows used)", values=s.x[first_rows], rows=names, cols=d_cols,
                 source="hidden_states", row_ids=first_rows),
            "  ",
            dict(title="X", values=s.x, rows=token_rows(s.tokens), cols=d_cols, source="hidden_states"),
            top=chips.get_bottom()[1] - 0.25, buff=1.4)
        rows = [x.row_cells[i] for i in x.rows]
        x.grid.remove(*rows)  # X's rows come in one by one
        self.reveal(table, x)
        row_of = {tok: r for r, (tok, _) in enumerate(lookups)}
        shown_chips = len(chips) - (1 if chips.more else 0)
        for i, row in zip(x.rows, rows):  # row by row, as each token fetches its vector
            if i < shown_chips:
                chips[i][0].set_stroke(self.colors["accent"], width=3)
            arrow = None
            r = row_of[token_of(s.tokens[i])]
            if r in table.rows:
                (_, right, top, bottom), (_, _, x_top, x_bottom) = table.box([r]), x.box([i])
                start, end = [right + 0.05, (top + bottom) / 2, 0], [x.get_left()[0] - 0.05, (x_top + x_bottom) / 2, 0]
                arrow = Arrow(start, end, buff=0.05, stroke_width=3, color=self.colors["accent"],
                              max_tip_length_to_length_ratio=0.12)
                self.add(arrow)
            self.add(row)
            self.pause(0.35 if len(rows) > 1 else 0.6)
            if arrow is not None:
                self.remove(arrow)
        self.pause(HOLD - 0.5)
        self.clear_stage()
        x.grid.add(*rows)  # whole again, for a later step that shows the same view

    def chips(self, tokens: list[str]) -> VGroup:
        """The tokens as boxed chips in one row: as many as fit, then '… N tokens'."""
        font, width = VIDEO.font() * 1.1, config.frame_width - 2 * SIDE_MARGIN
        chips, more = VGroup(), self.text(f"… {len(tokens)} tokens", VIDEO.font() * 1.1)
        for t in tokens:
            chip = self.token_chip(t, font)
            if chips.width + chip.width + 0.12 + (more.width + 0.12 if len(chips) + 1 < len(tokens) else 0) > width:
                break
            chips.add(chip)
            chips.arrange(RIGHT, buff=0.12)
        chips.more = len(chips) < len(tokens)
        if chips.more:
            chips.add(more)
            chips.arrange(RIGHT, buff=0.12)
        return chips

    def token_chip(self, row_label: str, font: float) -> VGroup:
        label = self.text(token_label(row_label), font)
        box = Rectangle(width=max(0.45, label.width + 0.2), height=label.height + 0.25, stroke_width=1.5,
                        stroke_color="#888888")
        chip = VGroup(box, label.move_to(box))
        chip.boxed, label.in_box = label.text, True  # for the record of overlaps: the text is as big as its box
        return chip

    def step_given_hidden_states(self, chips):
        """The prompt brought its own hidden states (a model's layer input, say): no lookup to show."""
        s = self.story
        (x,) = self.equation(dict(title="X", values=s.x, rows=token_rows(s.tokens), cols=dims(s.x.shape[1]),
                                  source="hidden_states"), top=chips.get_bottom()[1] - 0.25)
        self.reveal(x, wait=HOLD)
        self.clear_stage()

    def step_projections(self):
        s = self.story
        w_q, b_q = s.w["query"], s.b["query"]
        if s.q_columns is None:
            i, j = interesting_cell(s.x, w_q, s.q, self.precision)
        else:  # among the columns of W_q's CSV (and no 0/1 copy of a 16384-wide W_q)
            i, c = interesting_cell(s.x, w_q[:, s.q_columns], s.q[:, s.q_columns], self.precision)
            j = s.q_columns[c]
        terms = shown_terms(s.x.shape[1])
        self.caption("2 · project: Q = X · W_q" + (" + b_q" if np.any(b_q) else "")
                     + f"; one entry, Q[{i},{j}], written out")
        arithmetic = self.text_lines(self.wrap_sum(dot_product(f"Q[{i},{j}]", s.x[i], w_q[:, j], s.q[i, j],
                                                               self.precision, b_q[j])))
        tokens = token_rows(s.tokens)
        x, w, q = self.equation(
            dict(title="X", values=s.x, rows=tokens, cols=dims(s.x.shape[1]), source="hidden_states",
                 focus_rows=[i], focus_cols=terms), "·",
            dict(title="W_q", values=w_q, rows=dims(w_q.shape[0]), cols=dims(w_q.shape[1]), source="w_query",
                 focus_rows=terms, focus_cols=[j]), "=",
            dict(title="Q", values=s.q, rows=positions(len(tokens)), cols=dims(s.q.shape[1]), source="queries",
                 focus_rows=[i], focus_cols=[j]),
            bottom=arithmetic.get_top()[1] + 0.15)
        self.reveal(x, w, q, wait=1.0)
        self.record([("hidden_states", i, k, s.x[i, k]) for k in terms]
                    + [("w_query", k, j, w_q[k, j]) for k in terms]
                    + [("queries", i, j, s.q[i, j])]
                    + ([("b_query", 0, j, b_q[j])] if b_q[j] else []))
        self.highlight([x.outline([i], None, self.colors["accent"]), w.outline(None, [j], self.colors["accent"]),
                        q.outline([i], [j], self.colors["accent"])], arithmetic, wait=HOLD_WRITTEN)
        self.clear_stage()
        grouped = f" ({s.kv_heads} K/V heads for {s.heads} query heads: grouped-query attention)"
        self.caption("… and the same for keys and values: K = X · W_k, V = X · W_v" + (grouped if s.grouped else ""))
        parts = self.equation(
            dict(title="Q", values=s.q, rows=tokens, cols=dims(s.q.shape[1]), source="queries"), "",
            dict(title="K", values=s.k, rows=positions(len(tokens)), cols=dims(s.k.shape[1]), source="keys"), "",
            dict(title="V", values=s.v, rows=positions(len(tokens)), cols=dims(s.v.shape[1]), source="values"))
        self.reveal(*parts, wait=HOLD)
        self.clear_stage()

    def step_scores(self, head: int):
        s = self.story
        (q_source, q_all), (k_source, k_all) = s.scored
        rot = "_rot" if s.rotary else ""
        off = head * s.d_head
        qh, (kh, k_off) = s.head_columns(q_all, head), s.kv_columns(k_all, head)
        scores = s.scores[head]
        i, j = interesting_cell(qh, kh.T, scores, self.precision)
        terms = shown_terms(s.d_head)
        self.caption(f"{self.step_no['scores']} · scores = Q{rot} · K{rot}ᵀ: how well each query matches each key"
                     + head_tag(s, head) + reads(s, head, "; "))
        arithmetic = self.text_lines(self.wrap_sum(dot_product(f"score[{i},{j}]", qh[i], kh[j], scores[i, j],
                                                               self.precision)))
        tokens, at = token_rows(s.tokens), positions(len(s.tokens))
        q, kt, sc = self.equation(
            dict(title=f"Q{rot}" + head_tag(s, head, short=True), values=qh, rows=tokens, cols=dims(s.d_head, off),
                 source=q_source, col_offset=off, focus_rows=[i], focus_cols=terms), "·",
            dict(title=f"K{rot}ᵀ" + kv_tag(s, head), values=kh.T, rows=dims(s.d_head, k_off), cols=at,
                 source=f"{k_source}.T", row_ids=range(k_off, k_off + s.d_head), focus_rows=terms, focus_cols=[j]),
            "=",
            dict(title="scores", values=scores, rows=at, cols=at, kind="signed", source=f"scores[{head}]",
                 focus_rows=[i], focus_cols=[j]),
            bottom=arithmetic.get_top()[1] + 0.15)
        self.reveal(q, kt, sc, wait=1.0)
        self.record([(q_source, i, off + k, qh[i, k]) for k in terms]
                    + [(k_source, j, k_off + k, kh[j, k]) for k in terms]
                    + [(f"scores[{head}]", i, j, scores[i, j])])
        accent = self.colors["accent"]
        self.highlight([q.outline([i], None, accent), kt.outline(None, [j], accent), sc.outline([i], [j], accent)],
                       arithmetic, wait=HOLD_WRITTEN)
        self.clear_stage()
        return i

    def step_attention(self, head: int, i: int):
        """What the scores become (scaled, masked, softmax) and the output, for head `head`; query row `i`
        (the one the scores step wrote out) kept in view."""
        s = self.story
        tokens, at = token_rows(s.tokens), positions(len(s.tokens))
        steps = transformations(s, head)
        if steps:
            self.caption(f"{self.step_no['transform']} · " + " → ".join(t.caption for t in steps) + head_tag(s, head))
            parts = []
            for n, t in enumerate(steps):
                parts += [dict(title=t.heading, values=t.values, rows=at if n else tokens, cols=at, kind=t.kind,
                               source=f"{t.source}[{head}]", focus_rows=[i]), "→"]
            views = self.equation(*parts[:-1])
            self.reveal(*views, wait=HOLD)
            self.clear_stage()
        v_block, v_off = s.kv_columns(s.v, head)
        out_width = s.output.shape[1] // s.heads
        self.caption(f"{self.step_no['output']} · output = weights · V: each token's mix of the values it attends to"
                     + head_tag(s, head))
        parts = self.equation(
            dict(title="weights", values=s.attn[head], rows=tokens, cols=at, kind=s.weights_kind,
                 source=f"attention[{head}]", focus_rows=[i]), "·",
            dict(title="V" + kv_tag(s, head), values=v_block, rows=at, cols=dims(v_block.shape[1], v_off),
                 source="values", col_offset=v_off), "=",
            dict(title="output", values=s.head_columns(s.output, head), rows=at,
                 cols=dims(out_width, head * out_width), source="output", col_offset=head * out_width,
                 focus_rows=[i]))
        self.reveal(*parts, wait=HOLD)
        self.clear_stage()

    def step_final(self):
        """The result, which stays (no fade-out): every head shown, side by side (result.py)."""
        s = self.story
        together = one_head(s)
        if len(s.show_heads) == s.heads > 1:
            together = f", all {s.heads} heads side by side"
        elif len(s.show_heads) > 1:  # which of how many, as the gallery says it ("12 heads (the video's: 0, 1)")
            together = f", heads {', '.join(map(str, s.show_heads))} of {s.heads} side by side"
        self.caption(f"{self.step_no['result']} · the result: who attends to whom{together}")
        self.reveal(result_panel(self, self.story, self.stage_top() - 0.2, VIDEO), wait=2.5)

    def still_frame(self) -> list:
        """What the still (attention.png) shows: the title, the caption and the result laid out again for
        1920 x 1080 (labels.STILL), denser than the video's last frame."""
        from .labels import STILL

        font = STILL.font(20)  # title and caption at 20 px: the maps get the room, the whole title fits
        title = self.make_title(font * 1.15)
        caption = self.wrapped(self.caption_text, font, "#dddddd").next_to(title, DOWN, buff=0.1)
        return [title, caption, result_panel(self, self.story, caption.get_bottom()[1] - 0.15, STILL)]

    # ---- helpers ------------------------------------------------------------------------------

    def equation(self, *parts, top: float | None = None, bottom: float | None = None, buff: float = BUFF):
        """Matrices (dicts of plan.MatrixSpec's arguments) and operators in a row, in the room between `top`
        (default: under the caption) and `bottom` (default: the frame's bottom margin): planned (plan.py: what
        of each is shown, how large the row is drawn), built from the plans, placed in the middle of the room.
        A blank operator is a space. Returns the views."""
        top = (self.stage_top() - 0.2) if top is None else top
        bottom = (-config.frame_height / 2 + 0.25) if bottom is None else bottom
        operators = [self.text(p, VIDEO.font() * OPERATOR_FONT) if p.strip() else None
                     for p in parts if isinstance(p, str)]
        specs = [MatrixSpec(**p) for p in parts if isinstance(p, dict)]
        shown_ops = [o for o in operators if o is not None]
        fixed = sum(o.width for o in shown_ops) + buff * (len(specs) + len(shown_ops) - 1)
        plans, scale = self.planner.row(specs, fixed, config.frame_width - 2 * SIDE_MARGIN, top - bottom)
        views = [self.views.view(plan) for plan in plans]
        items, ops, at = [], iter(operators), iter(views)
        for p in parts:
            item = next(at) if isinstance(p, dict) else next(ops)
            if item is not None:
                items.append(item)
        row = Group(*items).arrange(RIGHT, buff=buff)
        for view in views:  # matrices top-aligned: a step's rows line up (operators stay centred)
            view.align_to(row, UP)
        row.scale(scale).move_to([0, (top + bottom) / 2, 0])
        return views

    @staticmethod
    def wrap_sum(text: str) -> list[str]:
        """A written-out sum as one line, or two (broken before its result) when long."""
        if len(text) <= 64:
            return [text]
        head, _, result = text.rpartition(" = ")
        return [head, "= " + result]

    def text_lines(self, lines: list[str]) -> VGroup:
        """Lines of text flush left at the bottom of the frame, at the smallest readable size or above."""
        size = VIDEO.font() * 1.05
        group = VGroup(*[self.text(line, size) for line in lines]).arrange(DOWN, aligned_edge=LEFT, buff=0.1)
        if group.width > config.frame_width - 2 * SIDE_MARGIN:  # never smaller: the sum is wrapped instead
            group = VGroup(*[self.wrapped(line, size) for line in lines]).arrange(DOWN, aligned_edge=LEFT, buff=0.1)
        return group.to_edge(DOWN, buff=0.25)

    def highlight(self, marks, text, wait: float):
        """Outline cells (grids, rows, columns) and write `text`, in one play."""
        self.add(text)  # on the stage from the start of the play (Write draws it from nothing): in the record
        self.show(*[Create(m) for m in marks], Write(text), wait=wait)

    def record(self, entries):
        """Note numbers written inside a sentence (a dot product's terms) as shown: (source, i, j, value)."""
        self.shown.extend((source, i, j, fmt(float(v), self.precision)) for source, i, j, v in entries)

    def number(self, value: float, source: str, i: int, j: int, size: float, color="#ffffff"):
        text = fmt(float(value), self.precision)
        self.shown.append((source, i, j, text))
        return self.text(text, size, color)

    def derived(self, value: float, statistic: str, source: str, rows, cols, size: float):
        """A number computed from a block of a stage tensor (a colour bar's clipped end: a percentile), not
        a stage value itself: recorded as (f"{statistic}({source})", row ids, column ids, text), so a test can
        recompute it from the CSV."""
        text = fmt(float(value), self.precision)
        self.shown.append((f"{statistic}({source})", tuple(rows), tuple(cols), text))
        return self.text(text, size)

