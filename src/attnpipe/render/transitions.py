"""How the scene moves from step to step: a title and a caption that stay, the stage revealed and cleared
through a black curtain, pauses scaled by the preset's pace. And the scene's record of what it drew: every
string on screen at every play, with the height its digits are drawn at in the preview (`drawn`), so a
test can check that nothing was too small to read, and any two texts on screen together whose boxes
overlap (`overlaps`)."""

import numpy as np
from manim import DL, DOWN, UR, AnimationGroup, Rectangle, Scene, Succession, VGroup, Wait, config

from . import glyphs
from .glyphs import GlyphText
from .labels import VIDEO, digit_size

OVERLAP = 0.01  # units (half a pixel at 640 x 360) two texts' boxes may share before they overlap
SIDE_MARGIN = 0.3  # units kept clear at the frame's sides
HOLD = 2.0  # seconds (times the pace) a step's numbers stay on screen before anything moves: time to read
HOLD_WRITTEN = 2.5  # the same for a written-out dot product


class Transitions(Scene):
    """A Scene with a title, a caption, curtain fades and a record of the text it drew (`drawn`)."""

    pace: float = 1.0  # every pause is multiplied by this: a lecture (publish) needs time to read
    title = None
    _caption = None

    def setup_record(self):
        # (string, digit height in preview pixels) of every text on screen at a play: the smallest per string
        self.drawn: dict[str, float] = {}
        # (caption, string, string) of every two texts on screen together at a play whose boxes overlap
        self.overlaps: list[tuple[str, str, str]] = []

    def text(self, text: str, size: float, color="#ffffff") -> GlyphText:
        """Every string on screen: set by Pango once per (string, size) in any render (the glyph cache),
        a fresh copy each call without deepcopy; any script, right-to-left included."""
        return glyphs.text(text, size, color)

    def note_drawn(self):
        """Record every text on screen now, at the size it is drawn, and any two whose boxes overlap."""
        per_point = digit_size()[0]
        texts, boxes = [], []
        for top in self.mobjects:
            for mob in top.get_family():
                if getattr(mob, "boxed", None) is not None:  # a boxed text (a token chip) takes its box's room
                    texts.append(mob.boxed)
                    boxes.append(np.concatenate([mob[0].get_corner(DL)[:2], mob[0].get_corner(UR)[:2]]))
                if isinstance(mob, GlyphText) and mob.text.strip():
                    px = VIDEO.px(mob.font_size * mob.scale_factor() * per_point)
                    if px < self.drawn.get(mob.text, float("inf")):
                        self.drawn[mob.text] = px
                    if len(mob.points) and not getattr(mob, "in_box", False):
                        texts.append(mob.text)
                        boxes.append(np.concatenate([mob.points[:, :2].min(axis=0), mob.points[:, :2].max(axis=0)]))
        for a, b in overlapping(np.array(boxes).reshape(-1, 4)):
            entry = (getattr(self, "caption_text", ""), texts[a], texts[b])
            if entry not in self.overlaps:
                self.overlaps.append(entry)

    def pause(self, seconds: float):
        self.note_drawn()
        self.wait(seconds * self.pace)

    def show(self, *animations, wait: float = 0.0, run_time: float = 0.6):
        """Play `animations` over `run_time`, then hold their last frame `wait` (times the pace) in the same
        play: each play redraws the whole screen once (Manim's static frame), a separate wait() again."""
        played = AnimationGroup(*animations, run_time=run_time)
        self.play(Succession(played, Wait(wait * self.pace)) if wait else played)
        self.note_drawn()

    def wrapped(self, text: str, size: float, color="#ffffff", width: float | None = None) -> VGroup:
        """`text` in as many lines as it needs to fit `width` at `size` (never smaller), broken at spaces."""
        width = width or config.frame_width - 2 * SIDE_MARGIN
        words, lines = text.split(" "), []
        while words:
            take = len(words)
            while take > 1 and self.text(" ".join(words[:take]), size).width > width:
                take -= 1
            lines.append(self.text(" ".join(words[:take]), size, color))
            words = words[take:]
        return VGroup(*lines).arrange(DOWN, buff=0.08 * size / 20)

    def caption(self, text: str):
        if self._caption is not None:
            self.remove(self._caption)
        self.caption_text = text
        self._caption = self.caption_lines(text)
        self.add(self._caption)

    def caption_lines(self, text: str) -> VGroup:
        """`text` as the caption, placed under the title (not shown)."""
        return self.wrapped(text, VIDEO.font() * 1.05, "#dddddd").next_to(self.title, DOWN, buff=0.15)

    def stage_top(self) -> float:
        """The y of the caption's bottom: where the stage begins."""
        anchor = self._caption if self._caption is not None else self.title
        return anchor.get_bottom()[1]

    # Fades go through a black curtain over the stage: FadeIn/FadeOut would deep-copy every mobject
    # they touch (most of the render time for a few hundred numbers); the curtain is one rectangle.
    def curtain(self, opacity: float) -> Rectangle:
        top = self.stage_top() - 0.02
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
        keep = {self.title, self._caption}
        leaving = [m for m in self.mobjects if m not in keep]
        if leaving:
            cover = self.curtain(0.0)
            self.add(cover)
            self.show(cover.animate.set_fill(opacity=1.0).build(), run_time=run_time)
            self.remove(*leaving, cover)

    def card(self, text: str, color: str, wait: float = 1.2):
        """A line alone on the stage (a head about to be walked through), then cleared."""
        line = self.wrapped(text, VIDEO.font() * 1.3, color).move_to([0, (self.stage_top() - 4) / 2, 0])
        self.reveal(line, wait=wait)
        self.clear_stage()



def overlapping(boxes: np.ndarray) -> list[tuple[int, int]]:
    """(a, b), a < b, of the boxes (x0, y0, x1, y1) that share more than OVERLAP in both directions."""
    lo, hi = boxes[:, None, :2], boxes[:, 2:]
    shared = np.minimum(hi[:, None], hi[None]) - np.maximum(lo, boxes[None, :, :2])
    hits = np.argwhere(np.triu((shared > OVERLAP).all(axis=2), k=1))
    return [(int(a), int(b)) for a, b in hits]
