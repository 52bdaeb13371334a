"""attnpipe: explain attention with real numbers.

The library never imports Snakemake; the workflow under ``workflow/`` calls into it.
Modules, one job each:
  config      load and check config/config.yaml into a Sweep (one-line ConfigError)
  schema      structure checks against the JSON schema: unknown keys with suggestions, types
  tokens      tokenizers, row labels, safe prompt ids
  embedding   vocab lookup with an optional seeded fallback for unknown tokens
  matrices    weight/bias specs (inline, identity, seeded random, file) -> arrays
  projection  y = x @ M + b, the notebook's nn.Linear convention
  attention   scores, scaling, causal mask, softmax, output; every intermediate kept
  stagefiles  write/read a stage as .pt + labelled .csv, atomically
  stages/     one entry point per Snakemake rule
  provenance  code version of a stage, so edits to the library mark outputs stale
"""

__version__ = "0.1.0"
