"""One entry point per Snakemake rule: read the stage inputs, compute, write the stage files.

Each takes plain mappings of paths (`inputs`, `outputs`: name -> path, with `<stage>_pt` / `<stage>_csv`
pairs), the rule's settings dict and a log path. Nothing here imports Snakemake.
"""
