"""Which heads a setting's video shows (`render: {heads}`, default all) and which of them it walks through
step by step (`render: {detail}`, default the first shown; `all`: every one shown). The others appear
together, their maps side by side, in the result. Checked once here for toy and model settings alike."""


def chosen_heads(render: dict, heads: int, where: str, error=ValueError) -> tuple[list[int], list[int]]:
    """(heads shown, heads in detail), sorted; `error(message)` names `where`.render.* on bad indices."""
    shown = sorted(render.get("heads", range(heads)))
    if max(shown) >= heads:
        raise error(f"{where}.render.heads: expected head indices from 0 to {heads - 1}, got {max(shown)}")
    detail = render.get("detail", shown[:1])
    detail = list(shown) if detail == "all" else sorted(detail)
    strays = [h for h in detail if h not in shown]
    if strays:
        raise error(f"{where}.render.detail: expected heads among those shown ({', '.join(map(str, shown))}) "
                    f"or all, got {strays[0]}")
    return shown, detail
