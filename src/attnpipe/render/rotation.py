"""The rotary step (Llama family), for the first head walked through: Q → cos, sin → Q_rot in numbers with one
rotated pair written out; the same pair drawn as what it is, two coordinates turned by an angle that grows
with the position (each position's angle drawn from the cos and sin the model used); then K → K_rot.
Every number shown is a stage value (queries, rope_cos, rope_sin, queries_rotated). Drawn on a Board (the
scene's verbs) from the story's data it is given."""

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, Arc, Arrow, Circle, Dot, Group, Line, VGroup, config

from ..look.numbers import fmt, term, token_label
from .board import Board
from .elision import pick
from .labels import VIDEO, dims, positions, token_rows
from .story import Story, rotated_pair
from .transitions import HOLD
from .wording import head_tag, kv_tag, reads

RADIUS = 1.55  # units: the diagrams' size
RAYS = 9  # positions drawn as rays at most (the one written out among them)


def rotation_steps(board: Board, s: Story, head: int, number: int) -> None:
    """Step `number`, for query head `head` of story `s`."""
    half, off = s.d_head // 2, head * s.d_head
    qh, q_rot = s.head_columns(s.q, head), s.head_columns(s.q_rot, head)
    i, k = rotated_pair(qh, s.rope_sin, board.precision)
    j = k + half
    pair = [k, j]
    a, b = qh[i, k], qh[i, j]
    rotated = q_rot[i, k], q_rot[i, j]
    (cos0, sin0), (cos1, sin1) = ((s.rope_cos[i, c], s.rope_sin[i, c]) for c in pair)
    p = board.precision
    board.record([("queries", i, off + c, qh[i, c]) for c in pair]
                 + [(name, i, c, table[i, c]) for c in pair
                    for name, table in (("rope_cos", s.rope_cos), ("rope_sin", s.rope_sin))]
                 + [("queries_rotated", i, off + c, v) for c, v in zip(pair, rotated)])
    tag = head_tag(s, head, short=True)
    board.caption(f"{number} · rotate by position (RoPE): Q_rot = Q·cos + rotate_half(Q)·sin"
                  + head_tag(s, head) + f"; the pair d{off + k}, d{off + j} of each")
    lines = board.text_lines([
        f"position {i} ({token_label(s.tokens[i])}): dimensions {k} and {j} turn as a pair",
        f"Q_rot[{i},{k}] = Q[{i},{k}]·cos − Q[{i},{j}]·sin = {term(a, p)}×{term(cos0, p)} − "
        f"{term(b, p)}×{term(sin0, p)} = {fmt(rotated[0], p)}",
        f"Q_rot[{i},{j}] = Q[{i},{j}]·cos + Q[{i},{k}]·sin = {term(b, p)}×{term(cos1, p)} + "
        f"{term(a, p)}×{term(sin1, p)} = {fmt(rotated[1], p)}"])
    tokens, at = token_rows(s.tokens), positions(len(s.tokens))
    # the pair's two columns of each (they are head_dim/2 apart: the columns between are not shown)
    pair_dims = [f"d{off + k}", f"d{off + j}"]
    q, cos, sin, qr = board.equation(
        dict(title="Q" + tag, values=qh[:, pair], rows=tokens, cols=pair_dims, source="queries",
             col_ids=[off + c for c in pair], focus_rows=[i]), "→",
        dict(title="cos", values=s.rope_cos[:, pair], rows=at, cols=[f"d{c}" for c in pair], source="rope_cos",
             col_ids=pair, focus_rows=[i]), "",
        dict(title="sin", values=s.rope_sin[:, pair], rows=at, cols=[f"d{c}" for c in pair], source="rope_sin",
             col_ids=pair, focus_rows=[i]), "→",
        dict(title="Q_rot" + tag, values=q_rot[:, pair], rows=at, cols=pair_dims, source="queries_rotated",
             col_ids=[off + c for c in pair], focus_rows=[i]),
        bottom=lines.get_top()[1] + 0.15)
    board.reveal(q, cos, sin, qr, wait=1.0)
    accent = board.colors["accent"]
    board.highlight([m.outline([i], None, accent) for m in (q, cos, sin, qr)], lines, wait=3.0)
    board.clear_stage()

    board.caption(f"… the pair (d{off + k}, d{off + j}) is a point, turned by an angle that grows with the position")
    middle = (board.stage_top() - config.frame_height / 2) / 2  # the diagrams centred in the stage
    wheel = angle_wheel(board, s, k, i, (off + k, off + j)).move_to([-config.frame_width / 4, middle, 0])
    turned = pair_turned(board, (a, b), rotated, (cos0, sin0), i).move_to([config.frame_width / 4, middle, 0])
    board.reveal(wheel, turned, wait=HOLD + 1.0)
    board.clear_stage()

    k_block, k_off = s.kv_columns(s.k, head)
    kv_dims = dims(k_block.shape[1], k_off)
    board.caption("… and K the same way, with the same cos and sin (V is not rotated)" + reads(s, head, ": "))
    parts = board.equation(
        dict(title="K" + kv_tag(s, head), values=k_block, rows=tokens, cols=kv_dims, source="keys",
             col_offset=k_off), "→",
        dict(title="K_rot" + kv_tag(s, head), values=s.kv_columns(s.k_rot, head)[0], rows=at, cols=kv_dims,
             source="keys_rotated", col_offset=k_off))
    board.reveal(*parts, wait=HOLD)
    board.clear_stage()


def angle_wheel(board: Board, s: Story, k: int, focus: int, names: tuple[int, int]) -> Group:
    """Each position's angle for dimension pair k: a ray to (cos, sin) of that position (the model's own
    values, drawn), labelled with the position; the one written out in the accent colour."""
    font = VIDEO.font() * 1.05
    circle = Circle(radius=RADIUS, color="#666666", stroke_width=2)
    parts = [circle, Line(LEFT * RADIUS * 1.1, RIGHT * RADIUS * 1.1, color="#444444", stroke_width=1)]
    for pos in pick(len(s.tokens), RAYS, [focus]):
        end = np.array([s.rope_cos[pos, k], s.rope_sin[pos, k], 0.0]) * RADIUS
        colour = board.colors["accent"] if pos == focus else "#bbbbbb"
        parts.append(Line([0, 0, 0], end, color=colour, stroke_width=4 if pos == focus else 2))
        parts.append(board.text(str(pos), font, colour).move_to(end * 1.22))
    heading = board.text(f"the angle at each position (d{names[0]}, d{names[1]})", font, board.colors["accent"])
    wheel = Group(*parts)
    return Group(heading.next_to(wheel, UP, buff=0.5), wheel)


def pair_turned(board: Board, before, after, cos_sin, position: int) -> Group:
    """The pair before and after as arrows from the origin, the turn between them as an arc; their
    coordinates written beside them."""
    font, p = VIDEO.font() * 1.05, board.precision
    norm = max(np.hypot(*before), np.hypot(*after), 1e-12)
    start, end = (np.array([x, y, 0.0]) * RADIUS / norm for x, y in (before, after))
    grey, accent = "#bbbbbb", board.colors["accent"]
    axes = VGroup(Line(LEFT * RADIUS * 1.1, RIGHT * RADIUS * 1.1, color="#444444", stroke_width=1),
                  Line(DOWN * RADIUS * 1.1, UP * RADIUS * 1.1, color="#444444", stroke_width=1))
    arrows = [Arrow([0, 0, 0], start, buff=0, color=grey, stroke_width=4),
              Arrow([0, 0, 0], end, buff=0, color=accent, stroke_width=4)]
    turn = float(np.arctan2(cos_sin[1], cos_sin[0]))
    arc = Arc(radius=RADIUS * 0.35, start_angle=float(np.arctan2(start[1], start[0])), angle=turn, color=accent)
    labels = [board.text(f"({fmt(x, p)}, {fmt(y, p)})", font, colour).next_to(Dot(tip), tip / np.linalg.norm(tip)
                                                                              if np.linalg.norm(tip) else RIGHT)
              for (x, y), tip, colour in ((before, start, grey), (after, end, accent))]
    heading = board.text(f"position {position}: before → after", font, accent)
    diagram = Group(axes, *arrows, arc, *labels, Dot([0, 0, 0], radius=0.04))
    return Group(heading.next_to(diagram, UP, buff=0.3), diagram)
