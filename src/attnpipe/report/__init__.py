"""The pages and tables over the whole sweep, read from the stage files without torch.

  summary      results/summary.csv and summary.html: one row per combination
  heads_table  results/heads.csv: one row per head, its pattern
  gallery      results/index.html and results/_gallery/
  maps         the attention maps of the pages, coloured as the still
  modelview    a model's every layer x head for one prompt
  templates/   the Jinja2 templates (autoescaped), CSS and JavaScript
"""
