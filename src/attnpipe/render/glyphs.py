"""Text for the scene, set by Pango once per distinct (string, size) and reused: in this process as a
template cloned without deepcopy, across processes and jobs as outline point arrays in a cache folder.

Setting type is most of a render's time (Pango writes an SVG, svgelements parses it, Manim builds one
VMobject per glyph: ~30 ms a string), and `Mobject.copy()` (a deepcopy of every attribute) is most of
the rest; Manim's own SVG cache keeps the first cost and adds the second. Here a string costs a file read
and a few array copies once the cache is warm.

Strings are set with Pango markup (MarkupText, the text escaped): the same outlines as `Text` for every
left-to-right string we measured, and, unlike `Text`, all glyphs of right-to-left and mixed-direction
strings (`Text("שלום")` has no glyphs at all in Manim 0.22).

Cache folder: $ATTNPIPE_CACHE_DIR, else $XDG_CACHE_HOME/attnpipe, else ~/.cache/attnpipe; glyphs go in
`glyphs/<fingerprint>/`, the fingerprint covering everything that changes an outline (this format,
Manim, ManimPango, Pango, Cairo, and the installed fonts with their versions). Each entry is written to a
temporary file and renamed, so parallel jobs (and nodes on a shared file system) see it whole or not at
all. A folder that cannot be written only costs speed.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from manim import WHITE, MarkupText, Mobject, VMobject

FORMAT = 1  # bump when what is stored, or how it is built, changes


def cache_root() -> Path:
    if os.environ.get("ATTNPIPE_CACHE_DIR"):
        return Path(os.environ["ATTNPIPE_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "attnpipe"


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """Everything besides the string and size that decides an outline, hashed."""
    import cairo
    import manim
    import manimpango

    fc_list = shutil.which("fc-list")
    fonts = (subprocess.run([fc_list, "--format", "%{file}|%{fontversion}\n"], check=False, capture_output=True,
                            text=True).stdout if fc_list else "\n".join(manimpango.list_fonts()))
    parts = [FORMAT, manim.__version__, manimpango.__version__, manimpango.pango_version(),
             cairo.cairo_version_string(), sorted(fonts.splitlines())]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


class GlyphText(VMobject):
    """A set string: its glyphs' outlines (Manim's Text's, same style) as the subpaths of one filled
    VMobject. One path, not one VMobject per glyph as Text has: Manim's drawing and copying cost is per
    VMobject, and halves (a string is one colour, so its glyphs need not be apart)."""

    def __init__(self, text: str, font_size: float, glyphs: list[np.ndarray], **kwargs):
        super().__init__(fill_opacity=1.0, stroke_width=0, **kwargs)
        self.text, self.font_size = text, font_size  # as set; scaling the mobject later does not change it
        if glyphs:
            self.set_points(np.concatenate(glyphs))
        self.natural = self.extent()  # as set: scale_factor() is its size now over this

    def extent(self) -> tuple[float, float]:
        """(width, height) from its own points (Mobject.width walks the family in Python: ~100x slower)."""
        if not len(self.points):
            return 0.0, 0.0
        spread = np.ptp(self.points[:, :2], axis=0)
        return float(spread[0]), float(spread[1])

    def scale_factor(self) -> float:
        """How much it has been scaled since it was set (the same turned by 90°: area, not height)."""
        (w0, h0), (w, h) = self.natural, self.extent()
        if w0 > 0 and h0 > 0:
            return float(np.sqrt(w * h / (w0 * h0)))
        return max(w, h) / max(w0, h0) if max(w0, h0) > 0 else 1.0

    def copy(self) -> "GlyphText":
        return clone(self)


def clone(mob):
    """A copy of a GlyphText or a plain shape (a grid cell's Rectangle) by copying its attribute dict: its
    arrays are copied, its submobjects and mobject attributes cloned, its updaters dropped. Only for these
    objects, whose attributes are known: Mobject.copy() deep-copies every attribute, ~30x slower (a
    Rectangle: ~1 ms to build, ~0.02 ms to clone)."""
    new = object.__new__(type(mob))
    attrs = {k: (v.copy() if isinstance(v, np.ndarray) else clone(v) if isinstance(v, Mobject) else v)
             for k, v in mob.__dict__.items()}
    attrs["submobjects"] = [clone(s) for s in mob.submobjects]
    attrs["updaters"] = []
    new.__dict__ = attrs
    return new


class GlyphCache:
    """string, size -> GlyphText: in memory for this process, on disk for every process."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder is not None else cache_root() / "glyphs" / fingerprint()
        self.templates: dict[tuple[str, float], GlyphText] = {}
        self.numerals: dict[float, Numerals | None] = {}  # size -> its numerals' layout (None: not exact)
        self.sizes: dict[tuple[str, float], tuple[float, float]] = {}  # measured numbers, not built
        # strings set by Pango / read from disk / laid out from numerals, for tests and benchmarks
        self.built = self.read = self.composed = 0

    def text(self, text: str, font_size: float, color=WHITE) -> GlyphText:
        return clone(self.template(text, font_size)).set_color(color)

    def size(self, text: str, font_size: float) -> tuple[float, float]:
        """(width, height) of `text` set at `font_size`. A number (laid out from its numerals: a layout may
        measure many that are never drawn) without building its GlyphText; other text from its template."""
        key = (text, round(float(font_size), 2))
        if key in self.templates:
            return self.templates[key].natural
        if not (text and set(text) <= NUMERAL_SET):
            return self.template(text, font_size).natural
        if key not in self.sizes:
            glyphs = self.outlines(*key)
            spread = np.ptp(np.concatenate(glyphs)[:, :2], axis=0) if glyphs else np.zeros(2)
            self.sizes[key] = (float(spread[0]), float(spread[1]))
        return self.sizes[key]

    def template(self, text: str, font_size: float) -> GlyphText:
        key = (text, round(float(font_size), 2))
        if key not in self.templates:
            self.templates[key] = GlyphText(text, key[1], self.outlines(*key))
        return self.templates[key]

    def outlines(self, text: str, font_size: float) -> list[np.ndarray]:
        """The glyph outlines of `text` at `font_size`: a number laid out from its numerals' outlines at the
        next size up the ladder, scaled down (within 0.0012 units of Pango setting it at this size: a sixth of
        a pixel at 1920 wide), where the layout is exact on the ladder; else from the disk cache, else set
        by Pango (and stored)."""
        if text and set(text) <= NUMERAL_SET:
            rung = Numerals.rung(font_size)
            if (numerals := self.numerals_at(rung)) is not None:
                self.composed += 1
                return [glyph * (font_size / rung) for glyph in numerals.compose(text)]
        return self.stored(text, font_size)

    def numerals_at(self, font_size: float) -> "Numerals | None":
        """This size's numerals, from the probe (every pair side by side) as Pango sets it; used only if strings
        laid out from it match the same strings set whole (else, say for a font that kerns digits
        contextually, every number is set whole)."""
        if font_size not in self.numerals:
            numerals = Numerals([self.stored(piece, font_size) for piece in Numerals.PIECES])
            exact = all(_same(numerals.compose(check), self.stored(check, font_size)) for check in Numerals.CHECKS)
            self.numerals[font_size] = numerals if exact else None
        return self.numerals[font_size]

    def stored(self, text: str, font_size: float) -> list[np.ndarray]:
        digest = hashlib.sha256(json.dumps([text, font_size]).encode()).hexdigest()
        path = self.folder / digest[:2] / f"{digest}.npz"
        try:
            with np.load(path, allow_pickle=False) as stored:
                points, counts = stored["points"], stored["counts"]
            self.read += 1
            return np.split(points, np.cumsum(counts)[:-1]) if len(counts) else []
        except (OSError, KeyError, ValueError):  # absent, or unreadable: set it again
            pass
        glyphs = set_type(text, font_size)
        self.built += 1
        counts = np.array([len(g) for g in glyphs], dtype=np.int64)
        points = np.concatenate(glyphs) if glyphs else np.zeros((0, 3))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.savez(fh, points=points, counts=counts)
                os.replace(tmp, path)  # atomic: readers see the whole entry or none
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            pass  # a read-only or full cache folder: render on, uncached
        return glyphs


NUMERALS = "0123456789.−"  # every character render.numbers.fmt writes for a finite number
NUMERAL_SET = frozenset(NUMERALS)


def _pairs_sequence(alphabet: str) -> str:
    """A string in which every ordered pair of `alphabet`'s characters stands side by side (a de Bruijn
    sequence of order 2, closed): len(alphabet)² + 1 characters."""
    k, order, a, seq = len(alphabet), 2, [0] * len(alphabet) * 2, []

    def extend(t, p):
        if t > order:
            if order % p == 0:
                seq.extend(a[1:p + 1])
            return
        a[t] = a[t - p]
        extend(t + 1, p)
        for j in range(a[t - p] + 1, k):
            a[t] = j
            extend(t + 1, t)

    extend(1, 1)
    return "".join(alphabet[i] for i in seq + seq[:1])


def _pieces(text: str, size: int) -> list[str]:
    """`text` in pieces of `size` characters, each overlapping the next by one."""
    return [text[i:i + size] for i in range(0, len(text) - 1, size - 1)]


class Numerals:
    """Numbers laid out from one setting of PROBE, a string holding every pair of numerals side by side:
    each numeral's outline, and for each pair how far the second glyph's outline starts from the first's
    (the first's advance, with any kerning of the pair). A render shows thousands of distinct numbers and
    each costs ~25 ms to set; laid out, a few microseconds. Pango places glyphs exactly so (a string laid
    out matches it set whole to ~1e-7 units, the SVG's own rounding); GlyphCache checks this per rung of
    LADDER, the sizes it sets numerals at."""

    PROBE = _pairs_sequence(NUMERALS)
    # set in pieces of 13 that overlap by one (every pair stays inside a piece): Manim wraps a long line
    PIECES = tuple(_pieces(PROBE, 13))
    CHECKS = ("−1234567890.5", "9.876543210−")  # set whole, once per size, against their layout
    # The sizes numerals are set at (the probe is 145 glyphs, ~0.5 s to set): a scene uses a dozen sizes and
    # a sweep dozens, each a cold cost; a number is laid out at the next rung up and scaled down (<= 20 %).
    LADDER = tuple(round(8 * 1.25 ** i, 2) for i in range(16))  # 8 ... 227

    @classmethod
    def rung(cls, font_size: float) -> float:
        return next((size for size in cls.LADDER if size >= font_size), font_size)

    def __init__(self, pieces: list[list[np.ndarray]]):
        """`pieces`: the glyph outlines of each of PIECES as set."""
        self.shapes, self.steps = {}, {}
        if [len(glyphs) for glyphs in pieces] != [len(piece) for piece in self.PIECES]:
            return  # a numeral without a glyph of its own: never lay out
        for piece, glyphs in zip(self.PIECES, pieces):
            for i, (c, glyph) in enumerate(zip(piece, glyphs)):
                self.shapes.setdefault(c, glyph - glyph[0])
                if i:
                    self.steps[piece[i - 1], c] = glyph[0] - glyphs[i - 1][0]

    def compose(self, text: str) -> list[np.ndarray]:
        if not self.shapes:
            return []
        start, glyphs = np.zeros(3), []
        for i, c in enumerate(text):
            if i:
                start = start + self.steps[text[i - 1], c]
            glyphs.append(self.shapes[c] + start)
        points = np.concatenate(glyphs)
        centre = (points.min(axis=0) + points.max(axis=0)) / 2  # as Text centres a string: its box's centre
        return [glyph - centre for glyph in glyphs]


def _same(a: list[np.ndarray], b: list[np.ndarray], tolerance: float = 1e-5) -> bool:
    """The same glyphs within `tolerance` scene units (1e-5: a thousandth of a pixel at 1920 wide)."""
    return len(a) == len(b) and all(x.shape == y.shape and np.abs(x - y).max() <= tolerance for x, y in zip(a, b))


def set_type(text: str, font_size: float) -> list[np.ndarray]:
    """The glyph outlines Pango sets for `text` at `font_size`, centred as Manim's Text centres them."""
    if not text.strip():
        return []
    from manim import config

    # Manim writes each string's SVG under config.text_dir: a folder of this call's own, not the user's
    # media/, removed at once (a forked render child ends with os._exit: no atexit cleanup), set directly
    # (tempconfig copies the whole config, a third of a string's cost); and no SVG cache (it deep-copies
    # every mobject it keeps: another third).
    before = config.text_dir
    config.text_dir = tempfile.mkdtemp(prefix="attnpipe-glyphs-")
    try:
        mob = MarkupText(escape(text), font_size=font_size, use_svg_cache=False)
    finally:
        shutil.rmtree(config.text_dir, ignore_errors=True)
        config.text_dir = before
    return [glyph.points.copy() for glyph in mob.submobjects]


_DEFAULT: GlyphCache | None = None


def _cache() -> GlyphCache:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = GlyphCache()
    return _DEFAULT


def text(string: str, font_size: float, color=WHITE) -> GlyphText:
    """`string` set at `font_size` in `color`, from this process's glyph cache."""
    return _cache().text(string, font_size, color)


def measure(string: str, font_size: float) -> tuple[float, float]:
    """(width, height) of `string` set at `font_size`, from the glyph cache (no copy made)."""
    return _cache().size(string, font_size)
