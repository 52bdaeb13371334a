"""results/index.html as a person uses it, in Debian's chromium driven by Playwright (pytest-playwright's
`page`; conftest.py launches /usr/bin/chromium, no browser download): the thumbnails load, the check boxes
filter, the heatmaps show attend.pt's numbers, a click plays the video. Every test also checks that the
page logged no error, threw nothing, failed to load nothing and asked for nothing outside the file system."""

import struct
from pathlib import Path

import pytest
import torch
from conftest import Watched
from playwright.sync_api import expect

from attnpipe.look.numbers import fmt

# under pytest-xdist one worker runs this module: one chromium, not one per worker
pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture
def gallery(page, built_default):
    """The swept default's index.html, opened from the file system; yields (page, what it did)."""
    watched = Watched(page)
    page.goto((built_default / "results/index.html").as_uri())
    yield page, watched


def png_size(path) -> tuple[int, int]:
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_gallery_shows_every_thumbnail_at_its_size(gallery, built_default, tmp_path):
    page, watched = gallery
    results = built_default / "results"
    thumbnails = page.locator("td.cell img")
    expect(thumbnails).to_have_count(20)
    for img in thumbnails.all():
        img.scroll_into_view_if_needed()  # they load lazily, as the reader scrolls
        src, width, height = img.evaluate("async img => { await img.decode(); "
                                          "return [img.getAttribute('src'), img.naturalWidth, img.naturalHeight]; }")
        assert (width, height) == png_size(results / src) and width > 0, src
    page.screenshot(path=tmp_path / "gallery.png", full_page=True)
    width, height = png_size(tmp_path / "gallery.png")
    assert width >= 800 and height >= 600
    watched.assert_quiet()


def test_gallery_check_boxes_filter_prompts_and_weight_settings(gallery):
    page, watched = gallery
    prompts, weights = page.get_by_role("group", name="Prompts"), page.get_by_role("group", name="Weight settings")
    shown, count = page.locator("td.cell:visible"), page.locator("#shown")
    expect(shown).to_have_count(20)
    expect(count).to_have_text("20 of 20 combinations shown")

    weights.get_by_role("checkbox", name="seed", exact=True).uncheck()
    expect(shown).to_have_count(16)
    expect(page.locator('th[data-weights="seed"]')).to_be_hidden()
    prompts.get_by_role("checkbox", name="the-cat").uncheck()
    expect(shown).to_have_count(12)
    expect(count).to_have_text("12 of 20 combinations shown")
    prompts.get_by_role("button", name="none").click()
    expect(shown).to_have_count(0)
    prompts.get_by_role("button", name="all").click()
    weights.get_by_role("checkbox", name="seed", exact=True).check()
    expect(shown).to_have_count(20)
    expect(count).to_have_text("20 of 20 combinations shown")
    watched.assert_quiet()


def test_gallery_heatmaps_show_the_numbers_of_attend_pt(gallery, built_default):
    page, watched = gallery
    attention = torch.load(built_default / "results/two-heads/012/attend.pt", weights_only=True)["attention"]
    expected = [[fmt(v, 2) for row in head for v in row] for head in attention["tensor"].tolist()]
    tables = page.locator('td.cell[data-weights="two-heads"][data-prompt="012"] table.heatmap')
    expect(tables).to_have_count(2)
    assert [table.locator("td").all_inner_texts() for table in tables.all()] == expected  # readable without the video
    watched.assert_quiet()


def test_gallery_plays_a_video_in_a_dialog(gallery, tmp_path):
    page, watched = gallery
    player, video = page.locator("#player"), page.locator("#player video")
    expect(player).to_be_hidden()
    page.get_by_alt_text("last frame of the video for seed / 012: “012”").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(player.get_by_role("heading")).to_have_text("seed / 012: “012”")
    page.wait_for_function("video => video.currentTime > 0.3", arg=video.element_handle(), timeout=30_000)
    played = video.evaluate("video => ({src: video.currentSrc, error: video.error && video.error.message, "
                            "width: video.videoWidth, paused: video.paused})")
    assert played["src"].endswith("/results/seed/012/attention.mp4") and played["error"] is None, played
    assert played["width"] == 640 and not played["paused"], played  # it decodes and plays the H.264
    expect(player.locator(".status")).to_have_text("")
    page.screenshot(path=tmp_path / "player.png")
    for csv in ("attention.csv", "scores.csv"):
        expect(player.get_by_role("link", name=csv, exact=True)).to_have_attribute("href", f"seed/012/{csv}")

    player.get_by_role("button", name="close").click()
    expect(player).to_be_hidden()
    assert video.evaluate("video => video.paused && !video.getAttribute('src')")
    watched.assert_quiet()
