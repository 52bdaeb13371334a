"""attnpipe: explain attention with real numbers.

The library never imports Snakemake; the workflow under ``workflow/`` calls into it. A module's opening
comment says what it is for; this is the map.

  config, configfile, schema, limits   the config: read strictly, checked, sized
  errors                               ConfigError: every check's one-line error
  tokens, embedding                    prompt text -> tokens -> hidden states X
  matrices, arrayfiles                 weight, bias and hidden-state specs and files -> arrays
  projection, scaling, attention       y = x @ M + b; the scale factor; attention with every intermediate
  models/                              real models: config.json checks (spec), running one (hf), fetching
                                       one from the hub (hub)
  stagefiles, torchfile, atomicfile    stage files: written (.pt + CSVs) whole or not at all, read without torch
  layout                               stage names, tensor names and results/ paths
  stages/                              one entry point per Snakemake rule
  provenance                           a stage's code version and a hub model's commit: what marks outputs stale
  resources                            what each job asks a cluster for
  render/                              the video and the still (its own map in render/__init__.py)
  summary, heads                       summary.csv/.html; heads.csv (one row per head, its pattern)
  gallery, maps, modelview, templates/ index.html, its attention maps, the model views
"""

__version__ = "0.1.0"
