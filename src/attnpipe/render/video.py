"""Render a Story to <out>.mp4 and the still of its last frame, in a media folder of the job's own.

The still is the result laid out again for labels.STILL_SIZE (1920 x 1080) whatever the video preset, with
its title and caption: one frame is cheap, and at that size more numbers and labels fit than in the video's
last frame (laid out for the preview's 640 x 360)."""

import shutil
import tempfile
from pathlib import Path

from ..store.atomicfile import atomic_path
from . import lifeline

# name -> Manim settings. preview: the sweep default, fast; publish: lecture quality, with pauses
# half as long again (`pace`), time to read the numbers aloud.
PRESETS = {
    "preview": {"pixel_width": 640, "pixel_height": 360, "frame_rate": 10, "encoder_preset": "ultrafast", "pace": 1.0},
    "publish": {"pixel_width": 1920, "pixel_height": 1080, "frame_rate": 30, "encoder_preset": "veryfast", "pace": 1.5},
}


def render(story, settings: dict, mp4_path, png_path):
    """settings: {"preset", "precision", "scheme"}. Returns the scene: its records of the numbers shown
    (`shown`) and of every text's drawn size (`drawn`)."""
    from manim import tempconfig  # imported here: Manim costs ~1 s and sets global state

    from .scene import AttentionStory

    preset = PRESETS[settings["preset"]]
    with tempfile.TemporaryDirectory(prefix="attnpipe-render-") as media:
        options = {
            "media_dir": media, "pixel_width": preset["pixel_width"], "pixel_height": preset["pixel_height"],
            "frame_rate": preset["frame_rate"], "disable_caching": True, "progress_bar": "none",
            "verbosity": "WARNING", "write_to_movie": True, "output_file": "attention",
            # no B-frames: Manim joins one file per play by copying packets, and a file ending on B-frames
            # shifts the next file's timestamps (frames 0.7 ms off at 30 fps); ultrafast has none anyway
            "video_encoder_options": {"preset": preset["encoder_preset"], "bf": "0"},
        }
        with tempconfig(options):
            scene = AttentionStory(story, precision=settings["precision"], scheme=settings["scheme"],
                                   pace=preset["pace"])
            scene.render()
            movie = Path(scene.renderer.file_writer.movie_file_path)
            write_still(scene, png_path)
            with atomic_path(mp4_path) as tmp:
                shutil.copyfile(movie, tmp)
                lifeline.check()  # the workflow is gone: no output for it
    return scene


def write_still(scene, png_path) -> None:
    """Draw the scene's result laid out for STILL_SIZE (scene.still_frame) into a PNG."""
    from manim import Camera

    from .labels import STILL_SIZE

    camera = Camera(pixel_width=STILL_SIZE[0], pixel_height=STILL_SIZE[1],
                    frame_width=scene.camera.frame_width, frame_height=scene.camera.frame_height)
    camera.capture_mobjects(scene.still_frame())
    with atomic_path(png_path) as tmp:
        camera.get_image().convert("RGB").save(tmp, format="PNG")
        lifeline.check()
