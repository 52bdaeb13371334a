"""Tokens, ids, embeddings, matrix specs and stage files: the library parts the stages are built from."""

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import Payload  # a pickle whose loading would run a shell command

from attnpipe.limits import MAX_VALUES, MAX_WIDTH
from attnpipe.numeric.embedding import fallback_vector, lookup
from attnpipe.numeric.matrices import SpecError, load_matrix, load_vector
from attnpipe.numeric.tokens import derive_id, is_periodic, is_safe_id, row_labels, strip_positions, token_of, tokenize
from attnpipe.store import torchfile
from attnpipe.store.atomicfile import atomic_path
from attnpipe.store.stagefiles import read_stage, record, write_stage

SEED_W = [[2.0, 1, 1], [4, -6, 0], [-2, 7, 2]]


def test_tokenizers_and_labels():
    assert tokenize("012", "characters") == ["0", "1", "2"]
    assert tokenize("the cat  sat\ton the", "words") == ["the", "cat", "sat", "on", "the"]
    assert row_labels(["the", "cat", "sat", "on", "the"])[4] == "4:the"
    # read back: a token may hold ":" itself, and only a full set of positions 0, 1, ... is stripped
    tokens = ["the", "a:b", ":", " "]
    assert [token_of(label) for label in row_labels(tokens)] == strip_positions(row_labels(tokens)) == tokens
    assert strip_positions(["1:a", "0:b"]) == ["1:a", "0:b"] and token_of("d0") == "d0"


@pytest.mark.parametrize("text, expected", [
    ("012", "012"), ("the cat sat", "the-cat-sat"), ("héllo wörld", "hello-world"), ("a/../b", "a-b"),
    ("..", None), ("日本語", None),
])
def test_derived_ids_are_safe(text, expected):
    pid = derive_id(text)
    assert is_safe_id(pid) and "/" not in pid and ".." not in pid
    if expected:
        assert pid == expected
    assert derive_id(text) == pid  # stable


def test_derived_ids_of_long_or_periodic_text_are_cut_and_hashed():
    long_a, long_b = "the cat " * 100 + "sat", "the cat " * 100 + "ran"
    assert len(derive_id(long_a)) <= 100 and derive_id(long_a) != derive_id(long_b)
    assert derive_id(long_a).startswith("the-cat-the-cat")
    zeros = derive_id("0" * 25)  # Snakemake refuses a wildcard value ending in 20+ repeats
    assert zeros.startswith("0000") and not is_periodic(zeros) and zeros != derive_id("0" * 26)
    assert derive_id("0" * 19) == "0" * 19


@pytest.mark.parametrize("bad", ["../x", "a/b", ".hidden", "", "a..b", "x y"])
def test_unsafe_ids_are_refused(bad):
    assert not is_safe_id(bad)


def test_fallback_vectors_are_seeded_per_token():
    a = fallback_vector("cat", seed=0, dim=4)
    assert np.array_equal(a, fallback_vector("cat", seed=0, dim=4))
    assert not np.array_equal(a, fallback_vector("dog", seed=0, dim=4))
    assert not np.array_equal(a, fallback_vector("cat", seed=1, dim=4))
    x = lookup(["0", "cat"], {"0": [1, 0, 0, 0]}, {"seed": 0, "dim": 4})
    assert x[0].tolist() == [1, 0, 0, 0] and np.array_equal(x[1], a)
    with pytest.raises(KeyError):
        lookup(["cat"], {"0": [1, 0, 0, 0]}, None)


def test_matrix_specs(tmp_path):
    assert np.array_equal(load_matrix("identity", 3), np.eye(3))
    assert np.array_equal(load_matrix(SEED_W, 3), np.array(SEED_W))
    r = load_matrix({"random": {"seed": 5, "shape": [3, 4]}}, 3)
    assert r.shape == (3, 4) and np.array_equal(r, load_matrix({"random": {"seed": 5, "shape": [3, 4]}}, 3))
    assert np.isclose(load_matrix({"random": {"seed": 5, "shape": [300, 300]}}, 300).std(), 1 / np.sqrt(300), rtol=0.05)
    assert load_vector({"random": {"seed": 1}}, 4).shape == (4,)


def test_matrix_files_in_every_format(tmp_path):
    w = np.array(SEED_W)
    np.save(tmp_path / "w.npy", w)
    torch.save(torch.tensor(w, dtype=torch.float32), tmp_path / "w.pt")
    (tmp_path / "bare.csv").write_text("2,1,1\n4,-6,0\n-2,7,2\n")
    write_stage({"w": record(torch.tensor(w), ["a", "b", "c"], ["d0", "d1", "d2"])},
                {"tensors": tmp_path / "stage.pt", "w_csv": tmp_path / "labelled.csv"})
    for name in ["w.npy", "w.pt", "bare.csv", "labelled.csv", "stage.pt"]:
        assert np.array_equal(load_matrix({"file": str(tmp_path / name)}, 3), w), name


def test_bad_matrix_files(tmp_path):
    np.save(tmp_path / "nan.npy", np.array([[np.nan, 1.0]]))
    np.save(tmp_path / "text.npy", np.array([["a", "b"]]))
    np.save(tmp_path / "cube.npy", np.ones((2, 2, 2)))
    torch.save({"weights": [1, 2]}, tmp_path / "notatensor.pt")
    torch.save(torch.ones(2, 2, dtype=torch.complex64), tmp_path / "complex.pt")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    expectations = {
        "nan.npy": "finite", "text.npy": "real numbers", "cube.npy": "2-D", "notatensor.pt": "expected a tensor",
        "complex.pt": "real numbers", "ragged.csv": "equal length", "absent.npy": "not found",
    }
    for name, message in expectations.items():
        with pytest.raises(SpecError, match=message):
            load_matrix({"file": str(tmp_path / name)}, 2)


def test_pt_files_never_execute_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save(Payload(), tmp_path / "evil.pt")
    with pytest.raises(SpecError, match="refused: it holds Python objects") as refusal:
        load_matrix({"file": "evil.pt"}, 2)
    assert "weights_only" not in str(refusal.value)  # torch's advice to load it unsafely is not passed on
    assert not (tmp_path / "pwned").exists()


def test_files_are_refused_for_what_they_are(tmp_path):
    (tmp_path / "dir.npy").mkdir()
    (tmp_path / "text.npy").write_text("1, 2\n3, 4\n")
    (tmp_path / "nul.npy").write_bytes(bytes(64))
    with open(tmp_path / "sparse.csv", "wb") as fh:
        fh.truncate(2 << 30)  # 2 GB, no disk used; parsing it took 20 s and 4 GB
    expectations = {
        "dir.npy": "is a directory", "text.npy": "not a valid .npy file", "nul.npy": "not a valid .npy file",
        "sparse.csv": "2,147,483,648 bytes, expected at most .* not read",
    }
    for name, message in expectations.items():
        with pytest.raises(SpecError, match=message):
            load_matrix({"file": str(tmp_path / name)}, 2)


def test_sizes_beyond_the_limits_are_refused_before_they_are_made():
    with pytest.raises(SpecError, match="at most 16384 rows and columns"):
        load_matrix({"random": {"seed": 0, "shape": [3, 100_000_000]}}, 3)
    with pytest.raises(SpecError, match=f"{MAX_VALUES:,} numbers"):
        load_matrix({"random": {"seed": 0, "shape": [MAX_WIDTH, MAX_VALUES // MAX_WIDTH + 1]}}, MAX_WIDTH)
    with pytest.raises(SpecError, match="within ±1e\\+150"):
        load_matrix([[1e200, 0], [0, 1]], 2)


def test_stage_files_round_trip_exactly(tmp_path):
    gen = np.random.default_rng(0)
    values = gen.standard_normal((4, 3)) * 10.0 ** gen.integers(-20, 20, (4, 3))
    values[0, 0], values[0, 1] = -0.0, 1 / 3
    tensor = torch.tensor(values)
    rec = record(tensor, ["0:a", "1:b", "2:a", "3:c"], ["d0", "d1", "d2"])
    write_stage({"x": rec}, {"tensors": tmp_path / "s.pt", "x_csv": tmp_path / "x.csv"})
    frame = pd.read_csv(tmp_path / "x.csv", index_col=0)
    assert np.array_equal(frame.to_numpy(), values)
    assert list(frame.index) == ["0:a", "1:b", "2:a", "3:c"]
    saved = read_stage(tmp_path / "s.pt")["x"]
    assert torch.equal(saved["tensor"], tensor) and saved["column_labels"] == ["d0", "d1", "d2"]


def test_the_render_reads_stage_files_as_torch_does_without_torch(built_default, tmp_path, monkeypatch):
    """attnpipe.store.torchfile (the render's reader: no torch import) gives what torch.load gives, for every stage
    file of the default sweep and for views, bools and -inf; and, like weights_only, never runs code."""
    files = sorted((built_default / "results").rglob("*.pt"))
    assert len(files) > 20
    for path in files:
        expected, got = torch.load(path, weights_only=True), torchfile.load(path)
        assert expected.keys() == got.keys(), path
        for name, rec in expected.items():
            assert got[name].keys() == rec.keys()
            assert {k: v for k, v in got[name].items() if k != "tensor"} == \
                {k: v for k, v in rec.items() if k != "tensor"}
            tensor = rec["tensor"].numpy()
            assert got[name]["tensor"].dtype == tensor.dtype and np.array_equal(got[name]["tensor"], tensor), \
                (path, name)
    cube = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4)
    odd = {"view": cube.transpose(1, 2)[1], "offset": cube[1, 1:], "mask": torch.tensor([True, False]),
           "float": torch.tensor([float("-inf"), 0.5], dtype=torch.float32), "labels": ["0:a", "1:b"]}
    torch.save(odd, tmp_path / "odd.pt")
    got = torchfile.load(tmp_path / "odd.pt")
    for name, value in odd.items():
        if isinstance(value, torch.Tensor):
            assert got[name].dtype == value.numpy().dtype and np.array_equal(got[name], value.numpy()), name
    assert got["labels"] == ["0:a", "1:b"]
    monkeypatch.chdir(tmp_path)
    torch.save(Payload(), tmp_path / "evil.pt")
    with pytest.raises(torchfile.TorchFileError, match="posix.system is not allowed"):
        torchfile.load(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


def test_masked_scores_round_trip_as_minus_infinity(tmp_path):
    t = torch.tensor([[[1.0, float("-inf")], [2.0, 3.0]]], dtype=torch.float64)
    outputs = {"tensors": tmp_path / "s.pt", "s_csv": tmp_path / "s.csv"}
    future = torch.tensor([[False, True], [False, False]])  # the causal mask: -inf there is by design
    write_stage({"s": record(t, ["0:a", "1:b"], ["0:a", "1:b"])}, outputs, masked={"s": future})
    assert pd.read_csv(tmp_path / "s.csv", index_col=0).loc["0:a", "1:b"] == -np.inf


def test_atomic_write_leaves_old_file_whole(tmp_path):
    target = tmp_path / "attention.csv"
    target.write_text("old, whole\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        with open(tmp, "w") as fh:
            fh.write("half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old, whole\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attention.csv"]
    with pytest.raises(ValueError, match="labels"):
        record(torch.ones(2, 2), ["a"], ["b", "c"])


def test_the_one_pt_reader_reads_a_configs_bfloat16_and_parameter_files_as_torch_does(tmp_path):
    """A weight file a config names is read by torchfile too (CRC-checked, no torch): bfloat16 widens to float32
    exactly as torch's .float() does, an nn.Parameter saved whole is its tensor."""
    w = torch.randn(3, 5, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
    torch.save(w, tmp_path / "bf16.pt")
    torch.save(torch.nn.Parameter(w.float()), tmp_path / "param.pt")
    expected = w.float().double().numpy()
    assert np.array_equal(load_matrix({"file": str(tmp_path / "bf16.pt")}, 3), expected)
    assert np.array_equal(load_matrix({"file": str(tmp_path / "param.pt")}, 3), expected)
