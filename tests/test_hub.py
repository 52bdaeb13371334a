"""Models from the hub (`models: {m: {hub: org/repo, revision: ..}}`) against a hub on the loopback: a thread
here answers the endpoints huggingface_hub calls (a model's description at a revision, HEAD and ranged GET of
/{repo}/resolve/{revision}/{file} with the ETag, X-Repo-Commit and Content-Length it reads) for tiny random Qwen2
models saved here. Every snakemake run gets HF_ENDPOINT (that server) and HF_HOME (a temporary cache): no test
reaches the internet. A real run fetches and computes (equal to the same model from a folder); then, the server
stopped, it runs from the cache, offline; another revision reruns the model's jobs; bad input is one line.
Needs the `hf` extra (`./run.sh test` installs it)."""

import hashlib
import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
import pytest
import torch
from conftest import copy_workflow, job, planned_jobs, snakemake, snapshot, write_config
from test_models import tokenizer  # a byte-level BPE trained on a few sentences

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
pytest.importorskip("huggingface_hub")
pytestmark = pytest.mark.xdist_group("models")

PROMPT, PROMPT_ID = "the cat sat on the mat", "the-cat-sat-on-the-mat"
SIZES = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "max_position_embeddings": 64}
REPO = "tiny/qwen"
DECOYS = {"modeling_qwen.py": b"raise SystemExit('code from the hub ran')\n", "pytorch_model.bin": b"not a pickle"}


class FakeHub:
    """Repositories: revision name -> commit, commit -> {file name: bytes}; every request path it was asked."""

    def __init__(self):
        self.refs, self.commits, self.requests = {}, {}, []

    def add(self, repo: str, files: dict, revisions: list) -> str:
        digest = hashlib.sha1(repo.encode())
        for name in sorted(files):
            digest.update(name.encode() + b"\0" + files[name])
        commit = digest.hexdigest()
        self.commits[commit] = files
        self.refs.setdefault(repo, {}).update({rev: commit for rev in [*revisions, commit]})
        return commit

    def start(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10  # a stalled client cannot hold a thread longer

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self.answer(body=False)

            def do_GET(self):
                self.answer(body=True)

            def send(self, status, data=b"", headers=(), body=True):
                self.send_response(status)
                for key, value in [*headers, ("Content-Length", str(len(data)))]:
                    self.send_header(key, value)
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def answer(self, body):
                path = unquote(urlsplit(self.path).path)
                hub.requests.append(f"{self.command} {path}")
                if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/revision/(.+)", path):
                    repo, revision = m.groups()
                    if repo not in hub.refs:
                        return self.send(404, b"{}", [("X-Error-Code", "RepoNotFound")], body)
                    if revision not in hub.refs[repo]:
                        return self.send(404, b"{}", [("X-Error-Code", "RevisionNotFound")], body)
                    commit = hub.refs[repo][revision]
                    info = {"id": repo, "sha": commit, "siblings": [{"rfilename": f} for f in hub.commits[commit]]}
                    return self.send(200, json.dumps(info).encode(), [("Content-Type", "application/json")], body)
                if m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
                    repo, revision, name = m.groups()
                    commit = hub.refs.get(repo, {}).get(revision)
                    if commit is None:
                        return self.send(404, b"", [("X-Error-Code", "RevisionNotFound")], body)
                    if name not in hub.commits[commit]:
                        return self.send(404, b"", [("X-Error-Code", "EntryNotFound"), ("X-Repo-Commit", commit)],
                                         body)
                    data = hub.commits[commit][name]
                    headers = [("X-Repo-Commit", commit), ("ETag", f'"{hashlib.sha256(data).hexdigest()}"')]
                    if (wanted := self.headers.get("Range")) and (r := re.fullmatch(r"bytes=(\d+)-(\d*)", wanted)):
                        start, end = int(r[1]), min(int(r[2] or len(data) - 1), len(data) - 1)
                        headers.append(("Content-Range", f"bytes {start}-{end}/{len(data)}"))
                        return self.send(206, data[start:end + 1], headers, body)
                    return self.send(200, data, headers, body)
                self.send(404, b"", [], body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def build_model(folder: Path, tok, seed: int, shard: str | None = None) -> dict:
    """A tiny random Qwen2 in `folder` (safetensors, in shards of at most `shard` with their index, and its
    tokenizer); its files as the hub serves them."""
    config = transformers.Qwen2Config(vocab_size=len(tok), **SIZES)
    torch.manual_seed(seed)
    model = transformers.AutoModel.from_config(config)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, 0.3)
    model.save_pretrained(folder, **({"max_shard_size": shard} if shard else {}))
    tok.save_pretrained(folder)
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The loopback hub, running for the module: tiny/qwen at v1 (= main; sharded) and v2 (other weights), with a
    module of code and a pickle beside the weights that must never be fetched; tiny/pickles with .bin weights
    only; tiny/custom whose config.json names code of its own (auto_map)."""
    root = tmp_path_factory.mktemp("hub")
    tok = tokenizer()
    hub = FakeHub()
    v1 = build_model(root / "v1", tok, seed=1, shard="50KB")
    hub.v1 = hub.add(REPO, {**v1, **DECOYS}, ["v1", "main"])
    hub.v2 = hub.add(REPO, {**build_model(root / "v2", tok, seed=2), **DECOYS}, ["v2"])
    pickles = {name: data for name, data in v1.items() if not name.endswith(".safetensors")}
    hub.add("tiny/pickles", {**pickles, "pytorch_model.bin": b"not a pickle"}, ["main"])
    custom = json.loads(v1["config.json"]) | {"auto_map": {"AutoModel": "modeling_qwen.Evil"}}
    hub.add("tiny/custom", {**v1, "config.json": json.dumps(custom).encode(), **DECOYS}, ["main"])
    hub.folder = root / "v1"
    hub.url = hub.start()
    yield hub
    hub.stop()


def hub_env(url: str, cache: Path, offline: bool = False) -> dict:
    """What every snakemake run here gets: the loopback hub, a cache of the test's own, no proxy."""
    return {"HF_ENDPOINT": url, "HF_HOME": str(cache), "HF_HUB_CACHE": str(cache / "hub"),
            "HF_HUB_OFFLINE": "1" if offline else "0", "TRANSFORMERS_OFFLINE": "", "HF_HUB_DISABLE_TELEMETRY": "1",
            "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", "HTTP_PROXY": "", "HTTPS_PROXY": "", "ALL_PROXY": "",
            "http_proxy": "", "https_proxy": "", "all_proxy": "", "HF_TOKEN": ""}


def hub_config(workdir: Path, hub_entry: dict, local: str | None = None) -> None:
    models = {"m": hub_entry, **({"local": {"path": local}} if local else {})}
    weights = {"w": {"model": "m", "layer": 1}, **({"v": {"model": "local", "layer": 1}} if local else {})}
    write_config(workdir, {"models": models, "weights": weights, "prompts": [PROMPT]})


def assert_one_line(workdir: Path, env: dict, expected: str) -> None:
    """A dry run stops with `expected` as its last line, before any job, results/ as it was."""
    before = snapshot(workdir / "results") if (workdir / "results").exists() else {}
    proc = snakemake(workdir, "-n", "numeric", "--cores", "1", env=env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert lines and lines[-1].startswith(expected), lines[-1:]
    assert (snapshot(workdir / "results") if (workdir / "results").exists() else {}) == before


def test_fetch_then_offline_then_another_revision(hub, tmp_path):
    """Fetched once, then from the cache alone; equal to the same model read from a folder."""
    workdir = copy_workflow(tmp_path / "wf")
    cache = tmp_path / "hf"
    hub_config(workdir, {"hub": REPO, "revision": "v1"}, local=str(hub.folder))
    hub.requests.clear()
    snakemake(workdir, "numeric", "--cores", "2", check=True, env=hub_env(hub.url, cache))

    record = json.loads((workdir / "results/models/m/_hub.json").read_text())
    assert (record["repo"], record["commit"]) == (REPO, hub.v1)
    snapshot_dir = cache / "hub/models--tiny--qwen/snapshots" / hub.v1
    assert sorted(p.name for p in snapshot_dir.iterdir()) == sorted(record["files"])
    shards = {name for name in record["files"] if name.endswith(".safetensors")}
    assert len(shards) >= 2 and "model.safetensors.index.json" in record["files"]  # every shard its index names
    assert not set(DECOYS) & set(record["files"])
    assert not any(r.endswith(tuple(DECOYS)) for r in hub.requests), hub.requests  # never code, never pickles
    assert (cache / "hub/models--tiny--qwen/refs/v1").read_text() == hub.v1
    for name in ("attention", "output", "queries_rotated"):  # the hub's model is the folder's model
        stage = "rotate" if name == "queries_rotated" else "attend"
        fetched = pd.read_csv(workdir / f"results/w/{PROMPT_ID}/{name}.csv", index_col=0)
        local = pd.read_csv(workdir / f"results/v/{PROMPT_ID}/{name}.csv", index_col=0)
        assert fetched.shape[0] >= 6 and fetched.equals(local), stage
    assert hub.v1 in (workdir / f"logs/forward/m/{PROMPT_ID}.log").read_text()  # it read the commit's snapshot

    # the hub gone: from the cache, with HF_HUB_OFFLINE or just unreachable; a deleted stage file is made again
    url = hub.url
    hub.stop()
    try:
        for offline in (True, False):
            assert planned_jobs(workdir, "numeric", env=hub_env(url, cache, offline)) == set()
        attend = workdir / f"results/w/{PROMPT_ID}/attend.pt"
        attend.unlink()
        snakemake(workdir, "numeric", "--cores", "2", check=True, env=hub_env(url, cache, offline=True))
        assert attend.is_file()
        assert_one_line(workdir, hub_env(url, tmp_path / "empty"),
                        f"attnpipe: config error: models.m.hub: cannot reach the hub at {url} (")
        assert_one_line(workdir, hub_env(url, tmp_path / "empty", offline=True),
                        "attnpipe: config error: models.m.hub: HF_HUB_OFFLINE is set and the cache")
    finally:
        hub.url = hub.start()

    # the tag's commit named instead: found in the cache without a request, and nothing to rerun
    hub_config(workdir, {"hub": REPO, "revision": hub.v1}, local=str(hub.folder))
    hub.requests.clear()
    assert planned_jobs(workdir, "numeric", env=hub_env(hub.url, cache)) == set()
    assert hub.requests == []

    # another revision: another commit, so the model's jobs run again (and only the hub model's)
    hub_config(workdir, {"hub": REPO, "revision": "v2"}, local=str(hub.folder))
    env = hub_env(hub.url, cache)
    planned = planned_jobs(workdir, "numeric", env=env)
    assert {job("fetch_model", model="m"), job("forward_rotary", model="m", prompt=PROMPT_ID),
            job("model_weights", weights="w")} <= planned
    assert not {j for j in planned if ("weights", "v") in j[1] or ("model", "local") in j[1]}

    # a cache that lost the model: the config check fetches its small files again, newer than the record, so
    # the fetch job runs again (rather than a forward job that finds no weights)
    hub_config(workdir, {"hub": REPO, "revision": "v1"}, local=str(hub.folder))
    shutil.rmtree(cache)
    assert job("fetch_model", model="m") in planned_jobs(workdir, "numeric", env=env)


@pytest.mark.parametrize("entry, expected", [
    ({"hub": REPO, "revision": "no-such-tag"}, f"models.m.revision: {REPO} has no revision 'no-such-tag'"),
    ({"hub": "tiny/absent", "revision": "main"}, "models.m.hub: no repository 'tiny/absent'"),
    ({"hub": "tiny/pickles", "revision": "main"}, "models.m.hub: tiny/pickles at revision 'main' has no "
                                                  ".safetensors weights (weights it has: pytorch_model.bin)"),
    ({"hub": "tiny/custom", "revision": "main"}, "models.m.hub: tiny/custom's config.json names code of its own"),
])
def test_bad_hub_input_is_one_line(hub, tmp_path, entry, expected):
    workdir = copy_workflow(tmp_path / "wf")
    hub_config(workdir, entry)
    assert_one_line(workdir, hub_env(hub.url, tmp_path / "hf"), f"attnpipe: config error: {expected}")


@pytest.mark.parametrize("entry, expected", [
    ({"hub": "not a repo", "revision": "main"}, "models.m.hub: expected a repository id"),
    ({"hub": REPO, "revision": "../../../x"}, "models.m.revision: expected a tag, branch or commit"),
    ({"hub": REPO}, "models.m.revision: missing"),
    ({"hub": REPO, "revision": "main", "path": "hf/m"}, "models.m: expected exactly one of path: "),
])
def test_a_malformed_hub_entry_is_refused_before_any_request(entry, expected, tmp_path, monkeypatch):
    """Checked before huggingface_hub is asked anything (here, in this process: pointed at a closed port on the
    loopback and an empty cache, so a request could not leave the machine)."""
    from huggingface_hub import constants

    from attnpipe.models.spec import ModelConfigError, resolve_models

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelConfigError) as err:
        resolve_models({"models": {"m": entry}})
    assert str(err.value).startswith(expected) and "\n" not in str(err.value)
