"""What the steps say about a story, as plain functions of it (no Manim): the steps' numbers, which head a
matrix belongs to, the K/V head a query head reads, and what step 4 does to the scores."""

from dataclasses import dataclass

import numpy as np

from .story import Story


@dataclass(frozen=True)
class Transformation:
    """One thing step 4 does to the scores: scale and mask (one stage tensor, scaled_scores), or softmax."""
    caption: str
    heading: str
    values: np.ndarray  # (T, T) of the head
    kind: str  # how it is coloured: signed or probability
    source: str  # its stage tensor


def transformations(story: Story, head: int) -> list[Transformation]:
    s, steps = story, []
    done_to_scores = [f"scaled {s.scale_label()}"] if s.scale_label() else []
    if s.options["causal"]:
        window = s.options.get("window")  # a sliding window (Mistral): only the last few
        done_to_scores.append("masked: a token sees only itself and earlier ones" if window is None
                              else f"masked: a token sees only itself and the {window - 1} before it")
    if done_to_scores:
        heading = "scaled" if not s.options["causal"] else "masked" if not s.scale_label() else "scaled, masked"
        steps.append(Transformation(", ".join(done_to_scores), heading, s.scaled[head], "signed", "scaled_scores"))
    if s.options["softmax"]:
        steps.append(Transformation("softmax: each row sums to 1", "weights", s.attn[head], "probability",
                                    "attention"))
    return steps


def step_numbers(story: Story) -> dict[str, int]:
    """The steps' numbers in the captions: 1 tokens and X, 2 Q, K, V, [3 the rotation (rotary models)], then
    the scores, "· scaling/mask/softmax" (where there is any), the output, the result."""
    scores = 4 if story.rotary else 3
    output = scores + (2 if transformations(story, 0) else 1)
    return {"rotate": 3, "scores": scores, "transform": scores + 1, "output": output, "result": output + 1}


def head_tag(story: Story, head: int, short: bool = False) -> str:
    """' (head 3 of 12)' (short: ' (head 3)'); nothing for a one-head setting. Numbered from 0, as in the
    config (render: {heads}), the CSVs (h0/…) and the gallery."""
    if story.heads == 1:
        return ""
    return f" (head {head})" if short else f" (head {head} of {story.heads})"


def kv_tag(story: Story, head: int) -> str:
    """' (K/V head 1)' on the K and V that query `head` reads, with grouped-query attention."""
    return f" (K/V head {story.kv_of[head]})" if story.grouped else ""


def reads(story: Story, head: int, lead: str) -> str:
    """'head 3 reads K/V head 1' after `lead`, with grouped-query attention (as the CSVs' 'h3(kv1)/')."""
    return f"{lead}head {head} reads K/V head {story.kv_of[head]}" if story.grouped else ""


def one_head(story: Story) -> str:
    """': head 3 of 12 · reads K/V head 1' when the result shows one head of several."""
    if len(story.show_heads) == 1 and story.heads > 1:
        return f": head {story.show_heads[0]} of {story.heads}" + reads(story, story.show_heads[0], " · ")
    return ""


def head_card(story: Story, head: int) -> str:
    """The line before a head is walked through."""
    others = len(story.show_heads) - len(story.detail_heads)
    text = f"head {head} of {story.heads}, step by step" + reads(story, head, " · ")
    return text + (f" · the other {others} at the end" if others > 0 else "")
