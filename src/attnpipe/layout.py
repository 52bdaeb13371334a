"""Where a sweep's files live, and what each stage file holds: the one place the workflow (.smk files), the
stages, the summary, the gallery and the benchmarks take stage names, tensor names and results/ paths from.

Paths are relative to the workflow's folder, as Snakemake names them; every function also takes wildcards
("{weights}") so a rule's patterns are built the same way as the paths of one combination.

  results/embeddings/<prompt>/embed.pt        a prompt's hidden states (toy settings)
  results/<weights>/weights.pt                a weight setting's matrices
  results/<weights>/<prompt>/<stage>.pt       a combination's stages (project, attend; a model's embed, rotate)
  results/<weights>/<prompt>/attention.mp4    its video and still
  results/models/<model>/<prompt>/forward.pt  a real model's forward pass
  results/models/<model>/_hub.json            a hub model's fetch: repository, revision, commit, files
  results/summary.csv, summary.html, heads.csv, index.html
  results/_gallery/                           what index.html links besides the stage files: per combination
                                              a thumbnail of its still, its attention maps as a PNG per head
                                              and their numbers as a script; one model view per (model,
                                              prompt) (a folder name no weight setting can take)
Each <stage>.pt sits beside one <tensor>.csv per tensor it holds (attnpipe.stagefiles).
"""

RESULTS = "results"
EMBEDDINGS, MODELS = "embeddings", "models"  # results/' folders that are not weight settings
ROLES = ("query", "key", "value")

# stage -> the tensors (and CSVs) its .pt file holds, in the order it writes them
STAGE_TENSORS = {
    "embed": ["hidden_states"],
    "weights": [f"{kind}_{role}" for role in ROLES for kind in ("w", "b")],
    "project": ["queries", "keys", "values"],
    "attend": ["scores", "scaled_scores", "attention", "output", "scale_factor"],
    "forward": ["attention_inputs"],  # + ROTARY_FORWARD_TENSORS for rotary models (CSVs only)
    "rotate": ["queries_rotated", "keys_rotated"],
}
ROTARY_FORWARD_TENSORS = ["rope_cos", "rope_sin"]  # the cos and sin a rotary model's attention receives

VIDEO, STILL, THUMBNAIL = "attention.mp4", "attention.png", "thumbnail.png"
SUMMARY_CSV, SUMMARY_HTML, GALLERY = (f"{RESULTS}/{name}" for name in ("summary.csv", "summary.html", "index.html"))
HEADS_CSV = f"{RESULTS}/heads.csv"
# A weight setting's name starts with a letter or digit, so this folder is never one.
GALLERY_ASSETS = f"{RESULTS}/_gallery"


def embeddings_dir(prompt: str) -> str:
    return f"{RESULTS}/{EMBEDDINGS}/{prompt}"


def weights_dir(weights: str) -> str:
    return f"{RESULTS}/{weights}"


def combination_dir(weights: str, prompt: str) -> str:
    return f"{RESULTS}/{weights}/{prompt}"


def model_dir(model: str, prompt: str) -> str:
    return f"{RESULTS}/{MODELS}/{model}/{prompt}"


def hub_record(model: str) -> str:
    """What the fetch_model job fetched (a name no prompt id can take: those start with a letter or digit)."""
    return f"{RESULTS}/{MODELS}/{model}/_hub.json"


def stage_file(directory: str, stage: str) -> str:
    return f"{directory}/{stage}.pt"


def csv_file(directory: str, tensor: str) -> str:
    return f"{directory}/{tensor}.csv"


def combination_file(weights: str, prompt: str, name: str) -> str:
    """A file in a combination's folder: combination_file(w, p, VIDEO), or a stage's CSV."""
    return f"{combination_dir(weights, prompt)}/{name}"


def stage_files(directory: str, stage: str) -> dict[str, str]:
    """A stage's outputs as the stages take them: tensors=<dir>/<stage>.pt and <name>_csv=<dir>/<name>.csv."""
    return {"tensors": stage_file(directory, stage),
            **{f"{name}_csv": csv_file(directory, name) for name in STAGE_TENSORS[stage]}}


def map_assets(weights: str, prompt: str) -> str:
    """A combination's files for the pages: its thumbnail, head<h>.png per head and attention.js (the numbers)."""
    return f"{GALLERY_ASSETS}/{weights}/{prompt}"


def model_view(model: str, prompt: str) -> str:
    """The page of every layer x head of a model for one prompt."""
    return f"{GALLERY_ASSETS}/{MODELS}/{model}/{prompt}.html"
