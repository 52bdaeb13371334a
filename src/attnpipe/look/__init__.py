"""How numbers look, shared by the video (render/) and the pages (report/); Manim-free.

  numbers      the one rule that turns a stage value into the string shown
  colours      palettes and colour scales (what a value's colour is, what the colour bar says)
  heads        which heads a setting shows, and which it walks through step by step
  weightcsv    what a model's big weight CSV holds (the columns of the heads walked through)
"""
