"""attnpipe: explain attention with real numbers.

The library never imports Snakemake; the workflow under ``workflow/`` calls into it. Each package has its own
map in its ``__init__.py``; a module's opening comment says what it is for. From the ground floor up (a package
imports only from those above it in this list):

  errors, limits, resources   ConfigError (every check's one line); the sizes a config may ask for; what a job
                              asks a cluster for
  store/                      results/ on disk: paths and the stage registry, stage files (.pt + CSVs) written
                              whole, the one .pt reader, array files, code versions
  numeric/                    the maths, each on one screen: tokens, embedding, matrices, projection, rotary,
                              scale, attention
  look/                       how numbers look, shared by the video and the pages (Manim-free): number format,
                              colour scales, which heads are shown and walked through
  models/                     real models: config.json checks (spec), running one a layer at a time (hf,
                              stream, weightfiles), fetching one from the hub (hub), tokens as people read
                              them (token_labels)
  config/                     the config: read strictly, checked, resolved into a Sweep that hands each rule
                              its slice
  report/                     the pages: summary.csv/.html, heads.csv, index.html, maps, model views, templates
  render/                     the video and the still (Manim)
  stages/                     one entry point per Snakemake rule

Where new work goes: a computation over one layer (q/k norms, soft-capping, a block's output) is a function in
numeric/ and a stage in stages/ (declared in store.layout.STAGES); a model's generation loop or a streamed
forward lives in models/; something computed across layers or combinations, such as attention rollout, reads
the stage files of several combinations: a numeric/ function, a stage over a (model, prompt), and a row in the
report's model view.
"""

__version__ = "0.1.0"
