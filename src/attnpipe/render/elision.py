"""Which rows (or columns) of a matrix are written out when not all of them fit, as numpy prints a big array
and teaching videos draw one: the first few, the ones the step points at, the last, and a gap (⋮ or ⋯)
wherever indices are skipped. Pure index arithmetic: no Manim here."""


def slots(shown: list[int], count: int) -> list[int | None]:
    """`shown` (sorted indices of `count`) with None wherever indices are skipped, the end included: the gaps
    drawn as ⋮ or ⋯."""
    out: list[int | None] = []
    for index in shown:
        if (out and out[-1] is not None and index > out[-1] + 1) or (not out and index > 0):
            out.append(None)
        out.append(index)
    if shown and shown[-1] < count - 1:
        out.append(None)
    return out


def pick(count: int, room: int, focus=()) -> list[int]:
    """Up to `room` slots (indices and gaps) of `count` indices: all of them when they fit; else the indices
    in `focus` (in order of priority: the first, the highlighted row or column, is always in view), the last
    one, the first three, the focus's neighbours and further first ones, as long as the slots fit."""
    if count <= room:
        return list(range(count))
    focus = [f for f in dict.fromkeys(focus) if 0 <= f < count]
    kept: set[int] = set(focus[:1])  # the highlighted one, whatever the room
    near = [f + d for d in (-1, 1) for f in focus[:1]]
    order = [*focus, count - 1, 0, 1, 2] if focus else [0, 1, 2, count - 1]  # with no focus: the first ones first
    for index in [*order, *near, *range(3, count)]:
        if index in kept or not 0 <= index < count:
            continue
        trial = kept | {index}
        if len(slots(sorted(trial), count)) <= room:  # (one that does not fit may be followed by one that closes a gap)
            kept = trial
    return sorted(kept or {0})
