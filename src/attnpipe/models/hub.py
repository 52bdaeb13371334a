"""Models from the Hugging Face hub: `models: {name: {hub: org/repo, revision: tag | branch | commit}}`.

resolve(), at config load (before any job): the revision becomes a commit; config.json, the tokenizer's files
and the safetensors index come into the Hugging Face cache (they are small); each .safetensors file's header is
read, from the cache or by a ranged request of its first bytes. fetch(), the fetch_model job: the .safetensors
files themselves. Only those names are ever fetched: never code (*.py), never pickles (.bin).

Offline (HF_HUB_OFFLINE=1, or the hub out of reach) everything comes from the cache, a tag or branch through the
commit the cache's refs/ recorded for it, as huggingface_hub records them. A commit hash whose files the cache
holds needs no request at all. Every request waits at most HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT seconds
(10 by default, huggingface_hub's settings).
"""

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

# Only huggingface_hub's settings here (0.1 s): its client (0.6 s more) is imported where a request is made,
# so a run that finds its commit in the cache starts as fast as one on a folder.
from huggingface_hub import constants

from .folder import TOKENIZER_EXTRAS, TOKENIZER_FILES, ModelConfigError, safetensors_header

COMMIT = re.compile(r"[0-9a-f]{40}")
# huggingface_hub's rule for a repository id (its validate_repo_id): [namespace/]name of letters, digits, - _ .
REPO_ID = re.compile(r"(?:[\w.-]+/)?[\w.-]+", re.ASCII)
CONFIG, INDEX, SINGLE = "config.json", "model.safetensors.index.json", "model.safetensors"
# config keys through which a model or tokenizer names code of its own (transformers' trust_remote_code)
REMOTE_CODE_KEYS = ("auto_map",)


@dataclass
class HubModel:
    """A hub model at one commit: the cache's snapshot folder of that commit is what its jobs read."""

    repo: str
    revision: str  # as the config names it
    commit: str
    folder: str
    small_files: list[str]  # fetched at config load: config.json, the tokenizer's files, the index
    weights: list[str]  # the .safetensors files: fetched by the fetch_model job
    numel: int  # numbers in them, from their headers
    tensors: dict  # name -> (file, dtype, shape), from their headers: what the config check holds to the model

    def paths(self, names: list[str]) -> list[str]:
        return [str(Path(self.folder) / name) for name in names]


class HubError(ModelConfigError):
    """str(err) is the one line to show."""


def resolve(name: str, repo: str, revision: str) -> HubModel:
    """The model at `revision`, its small files in the cache; one line naming models.<name>.hub or .revision
    for a repository or revision the hub does not know, one without .safetensors, or no way to reach it."""
    key = f"models.{name}"
    if not REPO_ID.fullmatch(repo) or len(repo) > 96 or "--" in repo or ".." in repo or repo[0] in "-." \
            or repo[-1] in "-.":
        raise HubError(f"{key}.hub: expected a repository id such as Qwen/Qwen2.5-0.5B, got {repo!r}")
    parts = revision.split("/")
    if "" in parts or "." in parts or ".." in parts or "\\" in revision or revision != revision.strip():
        raise HubError(f"{key}.revision: expected a tag, branch or commit such as main, got {revision!r}")
    storage = Path(constants.HF_HUB_CACHE) / ("models--" + repo.replace("/", "--"))
    cached = _from_cache(storage, repo, revision, key)
    if cached is not None and (COMMIT.fullmatch(revision) or constants.HF_HUB_OFFLINE):
        return cached
    where = f"{repo} at revision {revision!r}"
    if constants.HF_HUB_OFFLINE:
        raise HubError(f"{key}.hub: HF_HUB_OFFLINE is set and the cache {constants.HF_HUB_CACHE} does not hold "
                       f"{where} (config.json, tokenizer, .safetensors); expected it fetched once with network")
    import httpx2
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        info = HfApi().model_info(repo, revision=revision, timeout=constants.HF_HUB_ETAG_TIMEOUT)
    except RevisionNotFoundError:
        raise HubError(f"{key}.revision: {repo} has no revision {revision!r} on {constants.ENDPOINT}; expected "
                       "one of its tags, branches or commits") from None
    except GatedRepoError:
        raise HubError(f"{key}.hub: {repo} is gated on {constants.ENDPOINT}; expected a repository this "
                       "machine's token (HF_TOKEN) may read") from None
    except RepositoryNotFoundError:
        raise HubError(f"{key}.hub: no repository {repo!r} on {constants.ENDPOINT} (or it is private); expected "
                       "a model repository such as Qwen/Qwen2.5-0.5B") from None
    except (httpx2.TransportError, HfHubHTTPError) as err:
        if isinstance(err, HfHubHTTPError) and err.response.status_code < 500:
            raise HubError(f"{key}.hub: {constants.ENDPOINT} answered {err.response.status_code} for {where}; "
                           "expected the model's description") from None
        if cached is not None:  # the hub is out of reach: the commit the cache recorded for this revision
            return cached
        raise HubError(f"{key}.hub: cannot reach the hub at {constants.ENDPOINT} ({_reason(err)}) and the cache "
                       f"{constants.HF_HUB_CACHE} does not hold {where}; expected network access, or the model "
                       "fetched before (it then runs offline)") from None
    commit = info.sha or ""
    if not COMMIT.fullmatch(commit):
        raise HubError(f"{key}.hub: {constants.ENDPOINT} described {where} without its commit (sha: {commit!r}); "
                       "expected a Hugging Face hub")
    names = [s.rfilename for s in info.siblings or [] if "/" not in s.rfilename]  # the repository's top level
    small = _small_files(names, key, where)
    for filename in small:
        _download(repo, filename, commit, f"{key}.hub")
    if revision != commit:  # as huggingface_hub records it, for offline runs
        _record_ref(storage, revision, commit)
    folder = storage / "snapshots" / commit
    weights = _weights(folder, names, key, where)
    return _model(repo, revision, commit, folder, small, weights, key)


def fetch(repo: str, commit: str, filenames: list[str]) -> list[str]:
    """The fetch_model job: these files of `repo` at `commit` into the cache (those it holds are not fetched
    again); their paths in the cache."""
    return [_download(repo, filename, commit, f"hub {repo}") for filename in filenames]


def _from_cache(storage: Path, repo: str, revision: str, key: str) -> HubModel | None:
    """The model as the cache holds it, if it holds all of it: config.json, a tokenizer and every weight file."""
    commit = revision
    if not COMMIT.fullmatch(revision):
        ref = storage / "refs" / revision
        if not ref.is_file():
            return None
        commit = ref.read_text(encoding="utf-8").strip()
    folder = storage / "snapshots" / commit
    if not folder.is_dir():
        return None
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    try:
        small = _small_files(names, key, f"{repo} at revision {revision!r}")
        weights = _weights(folder, names, key, f"the cached {repo}")
    except HubError:
        return None
    if any(not (folder / name).is_file() for name in weights):
        return None
    return _model(repo, revision, commit, folder, small, weights, key)


def _small_files(names: list[str], key: str, where: str) -> list[str]:
    """What the config check fetches: config.json, the tokenizer's files, the safetensors index."""
    if CONFIG not in names:
        raise HubError(f"{key}.hub: {where} has no config.json; expected a transformers model repository")
    if not any(name.endswith(".safetensors") for name in names):
        others = ", ".join(n for n in names if n.endswith((".bin", ".pt", ".pth", ".ckpt", ".h5", ".gguf"))) or "none"
        raise HubError(f"{key}.hub: {where} has no .safetensors weights (weights it has: {others}); expected "
                       ".safetensors files (attnpipe never fetches pickled .bin weights)")
    if not any(name in names for name in TOKENIZER_FILES):
        raise HubError(f"{key}.hub: {where} has no tokenizer; expected one of {', '.join(TOKENIZER_FILES)}")
    tokenizer = [name for name in TOKENIZER_FILES + TOKENIZER_EXTRAS if name in names]
    return [CONFIG, *tokenizer, *([INDEX] if INDEX in names else [])]


def _weights(folder: Path, names: list[str], key: str, where: str) -> list[str]:
    """The .safetensors files the model loads, as transformers picks them: the shards its index names, else
    model.safetensors, else every .safetensors file at the top (a repository may hold other exports too)."""
    if INDEX in names:
        try:
            shards = sorted(set(json.loads((folder / INDEX).read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise HubError(f"{key}.hub: {where}: cannot read {INDEX} ({_reason(exc)}); expected "
                           "{\"weight_map\": {tensor: shard}}") from None
        unknown = [shard for shard in shards if shard not in names or "/" in shard]
        if unknown or not shards:
            raise HubError(f"{key}.hub: {where}: {INDEX} names shards it does not have ({', '.join(unknown)}); "
                           "expected .safetensors files of the repository")
        return shards
    if SINGLE in names:
        return [SINGLE]
    return [name for name in names if name.endswith(".safetensors")]


def _model(repo, revision, commit, folder: Path, small, weights, key) -> HubModel:
    """The model, once its small files are in `folder`: refused if it names code of its own; its size from
    the weights' headers (the cached files', or the first bytes of each on the hub)."""
    for filename in (CONFIG, "tokenizer_config.json"):
        path = folder / filename
        try:
            settings = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except (OSError, ValueError) as exc:
            raise HubError(f"{key}.hub: cannot read {path}: {_reason(exc)}") from None
        named = [k for k in REMOTE_CODE_KEYS if isinstance(settings, dict) and settings.get(k)]
        if named:
            raise HubError(f"{key}.hub: {repo}'s {filename} names code of its own ({named[0]}: "
                           f"{json.dumps(settings[named[0]])[:60]}); expected a model transformers implements "
                           "(attnpipe never runs code from the hub)")
    tensors = {}
    for name in weights:
        tensors.update(_header(repo, commit, folder / name, key))
    numel = sum(math.prod(shape) for _, _, shape in tensors.values())
    return HubModel(repo=repo, revision=revision, commit=commit, folder=str(folder), small_files=small,
                    weights=weights, numel=numel, tensors=tensors)


def _header(repo: str, commit: str, path: Path, key: str) -> dict:
    """name -> (file, dtype, shape) of a weight file's tensors: the cached file's header, else its first bytes on
    the hub."""
    if path.is_file():
        return {name: (str(path), entry["dtype"], entry["shape"])
                for name, entry in safetensors_header(path, f"{key}.hub").items() if name != "__metadata__"}
    from huggingface_hub import HfApi

    try:
        header = HfApi().parse_safetensors_file_metadata(repo, path.name, revision=commit,
                                                         timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT)
    except Exception as exc:  # network, HTTP or a header huggingface_hub cannot parse
        raise HubError(f"{key}.hub: cannot read the header of {repo}'s {path.name} ({_reason(exc)}); expected a "
                       ".safetensors file the hub serves") from None
    return {name: (str(path), info.dtype, list(info.shape)) for name, info in header.tensors.items()}


def _download(repo: str, filename: str, commit: str, key: str) -> str:
    import httpx2
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return hf_hub_download(repo, filename, revision=commit, etag_timeout=constants.HF_HUB_ETAG_TIMEOUT)
    except (LocalEntryNotFoundError, httpx2.TransportError, HfHubHTTPError, OSError) as exc:
        raise HubError(f"{key}: cannot fetch {filename} of {repo} at {commit} from {constants.ENDPOINT} "
                       f"({_reason(exc)}); expected the hub within reach") from None


def _record_ref(storage: Path, revision: str, commit: str) -> None:
    """refs/<revision> holds its commit: where huggingface_hub (and _from_cache) look a revision up offline."""
    ref = storage / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    if not ref.is_file() or ref.read_text(encoding="utf-8") != commit:
        ref.write_text(commit, encoding="utf-8")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
