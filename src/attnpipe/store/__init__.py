"""results/ on disk: where each file lives, what each stage file holds, and how files are written and read.

  layout       results/ paths and the stage registry (STAGES: each stage's tensors and where it lives)
  stagefiles   a stage written as one .pt and a labelled CSV per tensor, whole or not at all
  torchfile    the one reader of .pt files: CRC-checked, never runs code, no torch import
  atomicfile   files written whole or not at all
  arrayfiles   arrays named in the config (.npy, .pt, .safetensors, .csv) with their row labels
  provenance   a stage's code version, so library edits mark its outputs stale
  tokentable   a model's tokens.csv: each position's id, the tokenizer's string and the label shown
  spreadsheet  text cells a spreadsheet must not run as formulas (quoted with ', read back exactly)
"""
