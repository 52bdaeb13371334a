"""The render stage builds on Manim CE with Pango text and no LaTeX: both must work here."""

import shutil


def test_manim_imports_and_sets_text_without_latex(tmp_path):
    import manim

    assert shutil.which("ffmpeg"), "ffmpeg (Debian package) is missing"
    with manim.tempconfig({"media_dir": str(tmp_path)}):
        text = manim.Text("queries[0,1] = 1×1 + 0×(−6) = 1", font_size=24)
    assert text.width > 0 and len(text.submobjects) > 10
