"""The benchmarks' shared set-up: a copy of the workflow in a scratch folder, with its own config.

The library is the installed attnpipe (the checkout's, via `pip install -e`), so only the workflow's own
files are copied; results/, logs/ and .snakemake/ start empty.
"""

import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOW_PARTS = ["Snakefile", "config", "workflow", "profiles"]


def copy_workflow(dest: Path, config: dict | None = None) -> Path:
    """`dest` holding the workflow; `config` (if given) replaces config/config.yaml."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        (shutil.copytree if (REPO / part).is_dir() else shutil.copy2)(REPO / part, dest / part)
    if config is not None:
        write_config(dest, config)
    return dest


def read_config(wd: Path) -> dict:
    return yaml.safe_load((wd / "config/config.yaml").read_text())


def write_config(wd: Path, config: dict) -> None:
    (wd / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
