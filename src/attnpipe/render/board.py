"""What a step draws with: the scene's verbs, and nothing else of it. A step is given the story's data it
shows and a Board (the scene, render.scene.AttentionStory); it keeps no state on the scene between steps."""

from typing import Protocol


class Board(Protocol):
    precision: int  # decimals of every number shown (render.numbers.fmt)
    colors: dict  # the colour scheme (render.colours.SCHEMES): "accent" marks what a step points at

    def text(self, text: str, size: float, color: str = "#ffffff"):
        """A string set at `size` (the glyph cache's)."""

    def caption(self, text: str) -> None:
        """The line(s) under the title that say what the step shows."""

    def equation(self, *parts, top: float | None = None, bottom: float | None = None, buff: float = ...) -> list:
        """Matrices (plan.MatrixSpec arguments as dicts) and operators in a row, planned and drawn in the room
        between `top` and `bottom`: the MatrixViews, placed (not yet on screen)."""

    def text_lines(self, lines: list[str]):
        """Lines written at the bottom of the frame (a dot product written out)."""

    def number(self, value: float, source: str, i: int, j: int, size: float, color: str = "#ffffff"):
        """A stage value (`source`'s (i, j)) as the text on screen, recorded as shown."""

    def derived(self, value: float, statistic: str, source: str, rows, cols, size: float):
        """A number computed from a block of a stage tensor (a percentile), recorded as derived from it."""

    def record(self, entries) -> None:
        """Numbers written inside a sentence, as shown: (source, i, j, value)."""

    def reveal(self, *mobjects, wait: float = 0.0) -> None: ...

    def highlight(self, marks, text, wait: float) -> None: ...

    def clear_stage(self) -> None: ...

    def stage_top(self) -> float:
        """The y where the stage begins, under the caption."""
