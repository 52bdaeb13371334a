"""The render stage: a Manim video (and a still of its result) per combination, built from the saved stage
files only. No LaTeX: every string is set by Pango (glyphs). How numbers and colours look, and which heads are
walked through, is attnpipe.look's, shared with the pages.

  story        the stage files of one combination, read into what the scene shows
  scene        the storyboard: one Manim scene driven by a Story, a method per step; the board steps draw on
  board        what a step draws with (the scene's verbs), given the story's data as arguments
  wording      what the steps say about a story: step numbers, head tags, what is done to the scores
  transitions  title, caption, curtain fades, pauses; the record of every text drawn, its size, overlaps
  plan         a step's layout before anything is built: rows and columns shown, sizes, the frame used
  matrix_view  a matrix built from its plan: readable numbers, the rest elided (⋯ ⋮), labelled, coloured
  elision      which rows and columns of a big matrix are written out
  rotation     the rotary step (Llama family): numbers, the turned pair, K
  result       the result: every head's map side by side (the video's last frame, and the still)
  widgets      the result's grid, heatmap and colour bar
  labels       text sizes that read (video and still), token labels that never overlap
  glyphs       text set once per string and size, cached across jobs
  video        presets, per-job media folder, mp4 + png written whole into results/
  job          what one render job does (read, render, log), and what the render server preloads
  server       the render server: Manim imported once, a forked child per render job
  lifeline     a render ends with its workflow: Snakemake gone, nothing written
"""
