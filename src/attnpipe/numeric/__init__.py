"""The maths of attention, each computation readable on one screen, with every intermediate returned.

  tokens       prompt text -> tokens; row labels; path-safe prompt ids
  embedding    tokens -> hidden states X (a vocab lookup), or a prompt's own rows
  matrices     weight and bias specs (inline, identity, seeded random, a file) -> arrays
  projection   y = x @ M + b
  rotary       rotary position embedding (Llama family)
  scaling      the scale factor a `scale` option stands for
  attention    scores, scaled and masked scores, softmax, the weighted sum; grouped-query heads
"""
