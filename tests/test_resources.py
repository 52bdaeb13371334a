"""What a job asks a cluster for (attnpipe.resources), figure by figure: the model request follows the weights'
size, the render request the tokens and the heads walked through, and every request is a whole number of MB
and minutes that SLURM takes."""

from attnpipe.resources import MODEL_BASE, NUMERIC, model_request, render_request


def test_a_model_job_asks_for_twice_its_biggest_layer_on_top_of_the_base():
    # MiniLM: a layer of 1.8 M numbers (7 MB in float32), 87 MB in all: the base, rounded to 100
    assert model_request(6.8, 87.0) == {"mem_mb": 1000, "runtime": 5}
    # Llama-3-8B in float32: a layer of 218 M numbers (832 MB), 30.6 GB in all: under the 3 GB the streamed
    # forward is meant to need, though the whole model is ten times that; the time still reads the whole model
    eight_b = model_request(832.0, 30_600.0)
    assert eight_b["mem_mb"] == MODEL_BASE["mem_mb"] + 1_700 < 3 * 1024 and eight_b["runtime"] == 5 + 61
    assert model_request(3_400.0, 30_600.0)["mem_mb"] > eight_b["mem_mb"]  # a wider layer asks for more


def test_a_render_asks_for_what_it_walks_through():
    toy = render_request(3, 1, False, "preview")
    assert toy == {"mem_mb": 600, "runtime": 2}  # 600.9 MB, 25.4 CPU s x 3 = 1.3 min: the floor of 2
    minilm = render_request(11, 1, False, "preview")  # 121 cells: 612 MB, 29.8 CPU s
    assert minilm == {"mem_mb": 600, "runtime": 2}
    # 12 heads walked through at 12 tokens: 1728 cells, 772.8 MB and 94 CPU s (x 3: 4.7 min)
    assert render_request(12, 12, False, "preview") == {"mem_mb": 800, "runtime": 5}
    # a longer prompt costs no more than 12 tokens' worth (a matrix shows what fits of its numbers)
    assert render_request(300, 1, False, "preview") == render_request(12, 1, False, "preview")
    # the rotation step counts as one more head; publish draws 9x the pixels
    assert render_request(12, 1, True, "preview") == render_request(12, 2, False, "preview")
    assert render_request(12, 12, False, "publish") == {"mem_mb": 1900, "runtime": 21}


def test_requests_are_whole_numbers():
    for request in (NUMERIC, model_request(123.4, 1234.5), render_request(7, 3, True, "publish")):
        assert all(isinstance(v, int) and v > 0 for v in request.values())
