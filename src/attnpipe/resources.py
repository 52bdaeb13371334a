"""What one job asks a cluster for (SLURM's mem_mb and runtime in minutes), from what it will do. Measured with
benchmarks/resources.py: one job forced in a fresh Snakemake process, as a SLURM job runs it; peak RSS of the
whole process tree and its CPU seconds, on a 2-core machine. Declared with headroom for the SLURM job's own
Snakemake process (~200 MB) and for slower nodes (runtime: 3x the CPU time)."""

# a numeric job (embed, weights, project, attend, ...): 441-447 MB and 5-6 CPU s, nearly all of it importing
# Snakemake and torch (2026-11-29)
NUMERIC = {"mem_mb": 600, "runtime": 1}

# a job that runs a model: transformers, torch and, streamed (attnpipe.models.stream), one weight at a time in
# float32, read and dropped as its module runs (MiniLM's forward job, 87 MB of weights, peaked at 662 MB with
# 15 CPU s, most of it imports, 2026-11-29, when it still loaded the whole model). Declared: the base plus twice
# the biggest layer in float32 (a tensor and its source's mapped pages, with room to spare); the time to read the
# whole model, which a forward of its last layer does.
MODEL_BASE = {"mem_mb": 1000, "runtime": 5}


# A job that reads a model layer's weights.pt (project, render): float32 W_q, W_k, W_v, 100 MB for Llama-3-8B,
# 1.25 GB at Llama-3.1-405B's width. attnpipe.torchfile reads the file whole and copies it into arrays, then the
# projection makes a block of columns float64 at a time: twice the file, declared with a half more for room.
WEIGHTS_READ_FACTOR = 2.5


def weights_reader_request(weights_mb: float) -> dict:
    """A numeric job's request when it reads a weights.pt of `weights_mb` MB (a model's layer)."""
    return {"mem_mb": int(round(NUMERIC["mem_mb"] + WEIGHTS_READ_FACTOR * weights_mb, -2)),
            "runtime": NUMERIC["runtime"] + int(weights_mb / 1000)}


# A render's memory and time grow with the numbers it sets as text, for each head it walks through step by step
# (the others are one map each in the result; a matrix shows what fits of its numbers, so a wide one costs no
# more). Measured, cold glyph cache, the job's whole process tree (2026-12-03, on a loaded 2-core machine):
#   small (8 tokens, 2 heads, d 3)            preview: 18.2 CPU s, 356 MB
#   300 tokens (causal)                       preview: 33.0 CPU s, 379 MB
#   minilm (11 tokens, 12 heads, d 384)       preview: 26.5 CPU s, 367 MB
# Declared: a base plus a share per head walked through x grid cell (tokens up to 12, squared).
# publish's share per cell is not measured at MiniLM's size: taken as 5x preview's (frames 9x the pixels).
RENDER_BASE = {"preview": {"mem_mb": 600, "cpu_s": 25}, "publish": {"mem_mb": 1000, "cpu_s": 60}}
RENDER_PER_HEAD_CELL = {"preview": {"mem_mb": 0.1, "cpu_s": 0.04}, "publish": {"mem_mb": 0.5, "cpu_s": 0.2}}


def model_request(layer_float32_mb: float, float32_mb: float) -> dict:
    """A model job's request: memory from its biggest layer's weights in float32 (MB), time from the whole
    model's."""
    return {"mem_mb": int(round(MODEL_BASE["mem_mb"] + 2 * layer_float32_mb, -2)),
            "runtime": MODEL_BASE["runtime"] + int(2 * float32_mb / 1000)}


def fetch_request(float32_mb: float) -> dict:
    """A hub model's fetch job (local: it needs the network): its files stream to disk in chunks, so little
    memory; time for the stored bytes (taken as 16 bits a number, half the float32 size) at 10 MB/s."""
    return {"mem_mb": 1000, "runtime": 5 + int(float32_mb / 2 / 10 / 60)}


def render_request(tokens: int, detail_heads: int, rotary: bool, preset: str, weights_mb: float = 0.0) -> dict:
    """A render job's request: `tokens` of the prompt, the heads walked through (a rotary model's rotation
    step, Q, K, cos, sin and their rotations, counts as one more); weights_mb: a model layer's weights.pt,
    which it reads whole (a toy setting's is in the base)."""
    cells = (detail_heads + rotary) * min(tokens, 12) ** 2
    base, per_cell = RENDER_BASE[preset], RENDER_PER_HEAD_CELL[preset]
    mem_mb = base["mem_mb"] + per_cell["mem_mb"] * cells + WEIGHTS_READ_FACTOR * weights_mb
    cpu_s = base["cpu_s"] + per_cell["cpu_s"] * cells
    return {"mem_mb": int(round(mem_mb, -2)), "runtime": max(2, int(3 * cpu_s / 60) + 1)}
