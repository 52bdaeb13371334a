"""One entry point per Snakemake rule: read the stage inputs, compute, write the stage files.

Each `run(settings, inputs, outputs, log)` takes the rule's settings dict, plain mappings of paths
(name -> path) and a log path. Outputs are named `tensors` (the stage's .pt) and `<name>_csv` (one
per tensor, see attnpipe.store.stagefiles). Nothing here imports Snakemake.
"""
