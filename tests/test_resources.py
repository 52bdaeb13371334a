"""What a job asks a cluster for (attnpipe.resources), as properties: a request grows with what the job does
(tokens, heads walked through, a model layer's size), stays above the peaks benchmarks/resources.py measured (with
room for the SLURM job's own Snakemake process), and is a whole number of MB and minutes that SLURM takes."""

import pytest

from attnpipe.resources import NUMERIC, model_request, render_request

# Measured by benchmarks/resources.py (the job's whole process tree, cold glyph cache, 2026-12-03): the render
# job of each class at preview, peak RSS (MB) and CPU seconds; (tokens, heads walked, rotary).
MEASURED_RENDERS = {
    (8, 1, False): (356, 18.2),  # small: 8 tokens, 2 heads, d 3
    (300, 1, False): (379, 33.0),  # 300 tokens, causal
    (11, 1, False): (367, 26.5),  # MiniLM layer 3, 12 heads, d 384
}
SNAKEMAKE_MB = 200  # the SLURM job's own Snakemake process beside the job (resources.py)


@pytest.mark.parametrize("job", sorted(MEASURED_RENDERS))
def test_a_render_asks_for_more_than_it_was_measured_to_take(job):
    peak_mb, cpu_s = MEASURED_RENDERS[job]
    request = render_request(*job, "preview")
    assert request["mem_mb"] >= peak_mb + SNAKEMAKE_MB
    assert request["runtime"] * 60 >= 2 * cpu_s  # a slower node's headroom


def test_a_render_request_grows_with_tokens_heads_and_the_rotation_and_publish_asks_more():
    for preset in ("preview", "publish"):
        by_tokens = [render_request(tokens, 2, False, preset) for tokens in (2, 4, 8, 12, 100, 1000)]
        by_heads = [render_request(12, heads, False, preset) for heads in (1, 2, 4, 8, 16, 32)]
        for series in (by_tokens, by_heads):
            for a, b in zip(series, series[1:]):
                assert a["mem_mb"] <= b["mem_mb"] and a["runtime"] <= b["runtime"]
        assert by_heads[-1]["mem_mb"] > by_heads[0]["mem_mb"]  # walking 32 heads costs more than one
        assert render_request(12, 1, True, preset)["mem_mb"] >= render_request(12, 1, False, preset)["mem_mb"]
    for job in [(12, 1, False), (12, 12, False), (300, 1, True)]:
        preview, publish = render_request(*job, "preview"), render_request(*job, "publish")
        assert publish["mem_mb"] > preview["mem_mb"] and publish["runtime"] > preview["runtime"]


def test_a_model_request_follows_one_layer_not_the_model():
    """The forward streams the model: its memory follows the biggest layer (float32 MB), its time the whole model."""
    layers = [model_request(mb, 30_600.0) for mb in (1.0, 6.8, 832.0, 3_400.0)]
    for a, b in zip(layers, layers[1:]):
        assert a["mem_mb"] <= b["mem_mb"]
    assert layers[-1]["mem_mb"] > layers[0]["mem_mb"]
    models = [model_request(832.0, mb) for mb in (1_000.0, 30_600.0, 280_000.0)]
    assert len({m["mem_mb"] for m in models}) == 1  # one layer held, whatever the depth
    assert models[0]["runtime"] <= models[1]["runtime"] < models[2]["runtime"]
    assert model_request(6.8, 87.0)["mem_mb"] >= 662 + SNAKEMAKE_MB  # MiniLM's forward job peaked at 662 MB
    assert model_request(832.0, 30_600.0)["mem_mb"] <= 3 * 1024  # Llama-3-8B's layer: the 3 GiB the issue sets


def test_requests_are_whole_numbers():
    for request in (NUMERIC, model_request(123.4, 1234.5), render_request(7, 3, True, "publish")):
        assert all(isinstance(v, int) and v > 0 for v in request.values())
