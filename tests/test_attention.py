"""The computation in attnpipe.numeric.projection / attnpipe.numeric.attention against the notebook and torch's own."""

import math

import pytest
import torch
import torch.nn.functional as F

from attnpipe.numeric.attention import attend, scale_factor
from attnpipe.numeric.projection import project

SEED_W = torch.tensor([[2.0, 1, 1], [4, -6, 0], [-2, 7, 2]], dtype=torch.float64)
SEED_X = torch.tensor([[1.0, 0, 0], [-2, 1, 0], [-1, 1, 1]], dtype=torch.float64)


def test_notebook_first_cell():
    x = torch.tensor([[-0.083, 0.147], [0.029, 0.008], [-0.204, 0.132]], dtype=torch.float64)
    w = torch.tensor([[-0.381, -0.354], [0.407, -0.601]], dtype=torch.float64)
    printed = torch.tensor([[0.0915, -0.0590], [-0.0078, -0.0151], [0.1314, -0.0071]], dtype=torch.float64)
    y = project(x, w)
    assert torch.allclose(y, printed, atol=5e-5)  # the notebook printed 4 decimals
    linear = torch.nn.Linear(2, 2, bias=False).double()
    linear.weight.data = w.T  # the notebook's convention: weight M.T, so y = x @ M
    assert torch.equal(y, linear(x).detach())


def test_notebook_queries_and_raw_scores():
    q = project(SEED_X, SEED_W)
    assert q.tolist() == [[2, 1, 1], [0, -8, -2], [0, 0, 1]]
    result = attend(q, q, q, heads=1, scale="none", causal=False, softmax=False)
    assert result["scores"][0].tolist() == [[6, -10, 1], [-10, 68, -2], [1, -2, 1]]
    assert torch.equal(result["weights"], result["scores"])


def test_bias_is_added_per_output_column():
    b = torch.tensor([1.0, 0, -1], dtype=torch.float64)
    assert project(SEED_X, SEED_W, b).tolist() == [[3, 1, 0], [1, -8, -3], [1, 0, 0]]


@pytest.mark.parametrize("heads", [1, 2, 4])
@pytest.mark.parametrize("causal", [False, True])
def test_matches_torch_scaled_dot_product_attention(heads, causal):
    gen = torch.Generator().manual_seed(heads)
    T, d = 5, 8
    q, k, v = (torch.randn(T, d, generator=gen, dtype=torch.float64) for _ in range(3))
    result = attend(q, k, v, heads=heads, scale="1/sqrt(d_head)", causal=causal, softmax=True)

    def split(t):
        return t.view(T, heads, d // heads).transpose(0, 1)

    expected = F.scaled_dot_product_attention(split(q), split(k), split(v), is_causal=causal)
    assert torch.allclose(result["output"], expected.transpose(0, 1).reshape(T, d), atol=1e-12)
    assert torch.allclose(result["weights"].sum(-1), torch.ones(heads, T, dtype=torch.float64))
    d_head = d // heads
    assert torch.allclose(result["scores"], split(q) @ split(k).transpose(-2, -1))
    visible = ~torch.isinf(result["scaled_scores"])
    assert torch.allclose(result["scaled_scores"][visible], (result["scores"] / math.sqrt(d_head))[visible])
    assert visible.all() != causal


@pytest.mark.parametrize("window", [1, 2, 4])
def test_a_sliding_window_hides_keys_that_far_back(window):
    """Mistral's sliding window: query i sees keys i - window + 1 .. i (transformers' sliding_window_overlay)."""
    gen = torch.Generator().manual_seed(window)
    T, d = 6, 4
    q, k, v = (torch.randn(T, d, generator=gen, dtype=torch.float64) for _ in range(3))
    result = attend(q, k, v, heads=2, scale="1/sqrt(d_head)", causal=True, softmax=True, window=window)
    i, j = torch.meshgrid(torch.arange(T), torch.arange(T), indexing="ij")
    sees = (j <= i) & (i - j < window)
    assert torch.equal(result["hidden"], ~sees)

    def split(t):
        return t.view(T, 2, d // 2).transpose(0, 1)

    expected = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=sees)
    assert torch.allclose(result["output"], expected.transpose(0, 1).reshape(T, d), atol=1e-12)
    assert (result["weights"][:, ~sees] == 0).all() and torch.isneginf(result["scaled_scores"][:, ~sees]).all()


def test_causal_without_softmax_zeroes_masked_weights():
    q = project(SEED_X, SEED_W)
    result = attend(q, q, q, heads=1, scale=0.5, causal=True, softmax=False)
    assert result["weights"][0].tolist() == [[3, 0, 0], [-5, 34, 0], [0.5, -1, 0.5]]
    assert torch.isneginf(result["scaled_scores"][0, 0, 1])


def test_scale_factor_options():
    assert scale_factor("none", 4) == 1.0
    assert scale_factor("1/sqrt(d_head)", 4) == 0.5
    assert scale_factor(0.25, 4) == 0.25
