"""The sizes and magnitudes a config may ask for, checked before any job runs (README: "Limits").

Sized for what the numeric jobs' declared resources (600 MB, a minute) can hold: a job holds a few tensors
of at most MAX_VALUES float64 numbers (8 MB each) and writes each as a CSV. At 4x this MAX_VALUES (a 1024 x 4096
matrix, 4 heads x 1024 x 1024 attention) a numeric sweep (one process, jobs in threads) peaked at 729 MB; at
this one (1024 x 1024 matrices, 1024 tokens of width 1024, one head) at 476 MB (2026-11-29, a loaded 2-core machine).
MAX_VALUES bounds a toy setting's tensors, not a real model's layer: a model's jobs declare memory from the
layer's sizes (attnpipe.resources), and MAX_WIDTH is Llama-3.1-405B's width.
"""

MAX_WIDTH = 16384  # d_model, a matrix's columns, a hidden state's width (Llama-3.1-405B's hidden size)
MAX_TOKENS = 1024  # per prompt
MAX_HEADS = 128
MAX_VALUES = 2**20  # numbers in one tensor: a matrix, a prompt's hidden states, heads x T x T attention
# The product of two numbers within ±1e150 stays finite in float64 (max ~1.8e308): the limit keeps out what
# cannot be a weight, token vector or scale; what overflows in a stage's sums is refused when the stage runs.
MAX_MAGNITUDE = 1e150
MAX_TEXT = 10_000  # characters of a prompt's text
MAX_ID = 100  # characters of a prompt id or weight-setting name (a path component; file names stop at 255 bytes)
MAX_CONFIG_VALUES = 1_000_000  # values in the config with YAML aliases expanded; bigger arrays belong in files
# A file may hold this many bytes per number it is allowed to hold, plus slack for headers and labels: a CSV
# number is at most ~25 characters; a bigger file is refused before it is read.
FILE_BYTES_PER_VALUE = 64
FILE_SLACK_BYTES = 1 << 20
