"""Rule `fetch_model`: a hub model's files into the Hugging Face cache (attnpipe.models.hub) -> its record,
results/models/<model>/_hub.json: the repository, the commit the config's revision resolved to and each file
with its size. Files the cache holds already are not fetched again. Torch-free."""

import json
import os
from pathlib import Path

from ..models import hub
from ..store.atomicfile import atomic_path


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    paths = hub.fetch(settings["repo"], settings["commit"], settings["files"])
    files = {name: os.path.getsize(path) for name, path in zip(settings["files"], paths)}
    # the commit, not the revision's name: naming a tag's commit instead of the tag fetches and reruns nothing
    record = {"repo": settings["repo"], "commit": settings["commit"], "files": files}
    with atomic_path(outputs["record"]) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{settings['repo']} at commit {settings['commit']}",
             f"in {Path(paths[0]).parent}", *(f"{name}: {size:,} bytes" for name, size in files.items())]
    Path(log).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
