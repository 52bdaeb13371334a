"""Render a Story to <out>.mp4 and a PNG of its last frame, in a media folder of the job's own."""

import shutil
import tempfile
from pathlib import Path

from ..stagefiles import atomic_path

# name -> Manim settings. preview: the sweep default, fast; publish: lecture quality, with pauses
# half as long again (`pace`), time to read the numbers aloud.
PRESETS = {
    "preview": {"pixel_width": 640, "pixel_height": 360, "frame_rate": 10, "encoder_preset": "ultrafast", "pace": 1.0},
    "publish": {"pixel_width": 1920, "pixel_height": 1080, "frame_rate": 30, "encoder_preset": "veryfast", "pace": 1.5},
}


def render(story, settings: dict, mp4_path, png_path) -> dict:
    """settings: {"preset", "precision", "scheme"}. Returns the scene's record of shown numbers."""
    from manim import tempconfig  # imported here: Manim costs ~1 s and sets global state

    from .scene import AttentionStory

    preset = PRESETS[settings["preset"]]
    with tempfile.TemporaryDirectory(prefix="attnpipe-render-") as media:
        options = {
            "media_dir": media, "pixel_width": preset["pixel_width"], "pixel_height": preset["pixel_height"],
            "frame_rate": preset["frame_rate"], "disable_caching": True, "progress_bar": "none",
            "verbosity": "WARNING", "write_to_movie": True, "output_file": "attention",
            "video_encoder_options": {"preset": preset["encoder_preset"]},
        }
        with tempconfig(options):
            scene = AttentionStory(story, precision=settings["precision"], scheme=settings["scheme"],
                                   pace=preset["pace"])
            scene.render()
            frame = scene.renderer.get_frame()
            movie = Path(scene.renderer.file_writer.movie_file_path)
            from PIL import Image

            with atomic_path(png_path) as tmp:
                Image.fromarray(frame).convert("RGB").save(tmp, format="PNG")
            with atomic_path(mp4_path) as tmp:
                shutil.copyfile(movie, tmp)
    return scene.shown
