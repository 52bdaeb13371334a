"""Where a sweep's files live, and what each stage file holds: the one place the workflow (.smk files), the
stages, the summary, the gallery and the benchmarks take stage names, tensor names and results/ paths from.

Paths are relative to the workflow's folder, as Snakemake names them; every function also takes wildcards
("{weights}") so a rule's patterns are built the same way as the paths of one combination.

  results/embeddings/<prompt>/embed.pt        a prompt's hidden states (toy settings)
  results/<weights>/weights.pt                a weight setting's matrices
  results/<weights>/<prompt>/<stage>.pt       a combination's stages (project, attend; a model's embed, rotate)
  results/<weights>/<prompt>/attention.mp4    its video and still
  results/models/<model>/<prompt>/forward.pt  a real model's forward pass, and tokens.csv: its tokens (position,
                                              id, the tokenizer's string, the label shown; store.tokentable)
  results/models/<model>/_hub.json            a hub model's fetch: repository, revision, commit, files
  results/summary.csv, summary.html, heads.csv, index.html
  results/_gallery/                           what index.html links besides the stage files: per combination
                                              a thumbnail of its still, its attention maps as a PNG per head
                                              and their numbers as a script; one model view per (model,
                                              prompt) (a folder name no weight setting can take)
Each <stage>.pt sits beside one <tensor>.csv per tensor it holds (attnpipe.store.stagefiles).
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

RESULTS = "results"
EMBEDDINGS, MODELS = "embeddings", "models"  # results/' folders that are not weight settings
ROLES = ("query", "key", "value")

# Where a stage file lives: one per prompt, per weight setting, per combination, or per (model, prompt).
PROMPT, SETTING, COMBINATION, MODEL_PROMPT = "prompt", "setting", "combination", "model_prompt"


@dataclass(frozen=True)
class Stage:
    """A stage file: <name>.pt holding `tensors` (one CSV each, in the order written) in a `folder` of that
    kind, written for every combination whose weight setting has the feature `needs` (settings name their
    features: "any"; "toy" or "model"; "rotary"). `extra`: feature -> the tensors added where a setting
    has that feature. `unlinked`: tensors the pages do not link (a 1 x 1 record). `tables`: CSVs of text the
    stage writes beside its tensors' (no tensor: forward's tokens.csv)."""

    name: str
    tensors: tuple[str, ...]
    folder: str
    needs: str = "any"
    extra: dict = field(default_factory=dict)
    unlinked: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()

    def tensors_for(self, features) -> tuple[str, ...]:
        return self.tensors + tuple(t for feature, more in self.extra.items() if feature in features for t in more)


# The one registry of stage files, in pipeline order. The rules' outputs (stage_files), the files a sweep
# promises (attnpipe.config.Sweep.stage_outputs) and the pages' CSV links read it; every module under
# attnpipe.stages gets a code version. A new stage is its module under stages/, its rule, and a line here.
STAGES = (
    # a model's forward pass over a prompt: the attention inputs of the layers asked for (+ cos/sin: rotary);
    # its tokens: id, the tokenizer's string, the label every stage's rows carry
    Stage("forward", ("attention_inputs",), MODEL_PROMPT, needs="model", extra={"rotary": ("rope_cos", "rope_sin")},
          tables=("tokens",)),
    Stage("embed", ("hidden_states",), PROMPT, needs="toy"),  # a toy prompt's X (stages.embed)
    Stage("embed", ("hidden_states",), COMBINATION, needs="model"),  # a model layer's X (stages.layer_input)
    Stage("weights", tuple(f"{kind}_{role}" for role in ROLES for kind in ("w", "b")), SETTING),
    Stage("project", ("queries", "keys", "values"), COMBINATION),
    Stage("rotate", ("queries_rotated", "keys_rotated"), COMBINATION, needs="rotary"),
    Stage("attend", ("scores", "scaled_scores", "attention", "output", "scale_factor"), COMBINATION,
          unlinked=("scale_factor",)),
)
TENSORS = {stage.name: stage.tensors for stage in STAGES}  # a stage's tensors are the same in every home
# The CSVs the summary and the gallery link for every combination, in pipeline order: its X (the prompt's, or
# a model layer's own), then the tensors of the stages every combination has
COMBINATION_CSVS = ["hidden_states", *(name for stage in STAGES if stage.folder == COMBINATION and stage.needs == "any"
                                       for name in stage.tensors if name not in stage.unlinked)]

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


def stage_files(directory: str, stage: str, features=()) -> dict[str, str]:
    """A stage's outputs as the stages take them: tensors=<dir>/<stage>.pt and <name>_csv=<dir>/<name>.csv,
    with the extra tensors of `features` (a rotary model's forward: rope_cos, rope_sin) and its tables."""
    home = next(s for s in STAGES if s.name == stage)
    return {"tensors": stage_file(directory, stage),
            **{f"{name}_csv": csv_file(directory, name) for name in home.tensors_for(features) + home.tables}}


def stage_folder(folder: str, weights: str, prompt: str, model: str | None = None) -> str:
    """The folder of a stage file of kind `folder` for one combination (`model`: its setting's model)."""
    if folder == PROMPT:
        return embeddings_dir(prompt)
    if folder == SETTING:
        return weights_dir(weights)
    if folder == MODEL_PROMPT:
        return model_dir(model, prompt)
    return combination_dir(weights, prompt)


def map_assets(weights: str, prompt: str) -> str:
    """A combination's files for the pages: its thumbnail, head<h>.png per head and attention.js (the numbers)."""
    return f"{GALLERY_ASSETS}/{weights}/{prompt}"


def model_view(model: str, prompt: str) -> str:
    """The page of every layer x head of a model for one prompt."""
    return f"{GALLERY_ASSETS}/{MODELS}/{model}/{prompt}.html"


def link(path, start) -> str:
    """`path` relative to the folder `start` (both relative to the workflow folder, `start` above it or
    beside it in results/), as a link."""
    path, start = str(path), str(start)
    if path.startswith(start + "/"):  # the page's own folder or below: the common case, without relpath
        return path[len(start) + 1:]
    return Path(os.path.relpath(path, start)).as_posix()
