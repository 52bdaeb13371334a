"""The render stage: a Manim video (and a still of its last frame) per combination, built from the
saved stage files only. No LaTeX: every glyph is Pango `Text`.

  numbers  the one rule that turns a stage value into the string on screen
  story    the stage files of one combination, read into what the scene shows
  scene    the Manim scene, driven by a Story (grids, a highlighted dot product, heatmaps)
  video    presets, per-job media folder, mp4 + png written whole into results/
"""
