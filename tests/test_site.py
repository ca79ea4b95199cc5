"""The static-site builder (tools/build_site.py) on tiny notebooks made here: fast, no browser."""
from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import nbformat
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build_site as bs  # noqa: E402
import story_picture as sp  # noqa: E402
from sd_tiny import tiny_pipe  # noqa: E402,F401  (fixture)

REPO = "https://github.com/example/course"
# a 1×1 PNG
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082")).decode()


def tiny(number: str, title: str, *, links: str = "", widget: bool = False, colab: bool = False,
         timed: bool = False) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {number} · {title}\n*The {title.lower()} in one line.*")]
    if colab:
        nb.cells.append(nbformat.v4.new_code_cell("# Colab set-up: ...\nimport sys", metadata={"tags": ["colab-setup"]}))
    nb.cells.append(nbformat.v4.new_markdown_cell(f"Some prose. {links}"))
    code = nbformat.v4.new_code_cell("show()", execution_count=1)
    code.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]
    if widget:
        code.outputs.append(nbformat.v4.new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
            "text/plain": "interactive(children=(IntSlider(value=3),))"}))
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2,
                                                                               "version_minor": 0}}
    if timed:
        code.metadata["execution"] = {"iopub.execute_input": "2026-01-01T10:00:00.000Z",
                                      "shell.execute_reply": "2026-01-01T10:00:12.500Z"}
    nb.cells.append(code)
    return nb


@pytest.fixture
def two_books(tmp_path):
    src = tmp_path / "nbs"
    src.mkdir()
    nbformat.write(tiny("00", "Hello", links="[next](01_next.ipynb), [later](05_later.ipynb#Top), "
                                             "[code](../course_utils/seeding.py), [web](https://example.org)",
                        colab=True), src / "00_hello.ipynb")
    nbformat.write(tiny("01", "Next", links="[back](00_hello.ipynb#Some-section)", widget=True, timed=True),
                   src / "01_next.ipynb")
    times = tmp_path / "times-full.json"
    times.write_text(json.dumps({"mode": "full", "threads": 2, "seconds": {"00_hello": 3.2}, "date": "2026-01-01"}))
    return src, times


def test_build_site_pages_index_and_links(two_books, tmp_path):
    src, times = two_books
    report = bs.build_site(src, tmp_path / "site", times, repo=REPO)
    assert set(report.pages) == {"00_hello", "01_next"}
    assert report.missing_links == [("00_hello", "05_later.ipynb")]
    assert report.size_bytes > 0
    hello = (tmp_path / "site" / "00_hello.html").read_text()
    assert f"data:image/png;base64,{PNG[:20]}" in hello                      # figure embedded
    assert 'href="01_next.html"' in hello and "01_next.ipynb" not in hello.split("course-nav")[0]
    assert 'class="course-missing"' in hello and "05_later" not in hello.split("course-missing")[0][-200:]
    assert f'href="{REPO}/blob/main/course_utils/seeding.py"' in hello         # repo file → GitHub
    assert 'href="https://example.org"' in hello
    assert "# Colab set-up" not in hello                                     # set-up cell left out
    assert "require.min.js" not in hello and "mathjax" not in hello.lower()  # no CDN script without maths
    nxt = (tmp_path / "site" / "01_next.html").read_text()
    assert 'href="00_hello.html#Some-section"' in nxt
    assert "interactive(children=" not in nxt and "course-widget-note" in nxt
    assert "widget-state+json" not in nxt
    index = (tmp_path / "site" / "index.html").read_text()
    assert 'href="00_hello.html"' in index and 'href="01_next.html"' in index
    assert "3 s</td>" in index                                 # from times-full.json
    assert "12 s*</td>" in index                               # from the cell timings, starred
    assert (tmp_path / "site" / "course.css").is_file()


def test_animation_html_is_kept(tmp_path):
    """matplotlib's ``to_jshtml`` animations are text/html outputs with inline frames and script."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation
    fig, ax = plt.subplots(figsize=(1, 1), dpi=20)
    line, = ax.plot([0, 1], [0, 0])
    anim = FuncAnimation(fig, lambda i: line.set_ydata([i, -i]) or (line,), frames=2)
    jshtml = anim.to_jshtml()
    plt.close(fig)
    nb = tiny("00", "Moving")
    nb.cells[-1].outputs.append(nbformat.v4.new_output("display_data", data={"text/html": jshtml}))
    src = tmp_path / "nbs"
    src.mkdir()
    nbformat.write(nb, src / "00_moving.ipynb")
    bs.build_site(src, tmp_path / "site", None, repo=REPO)
    page = (tmp_path / "site" / "00_moving.html").read_text()
    assert "anim_step_forward" in page or "Animation" in page
    assert page.count("data:image/png;base64") >= 3           # the figure + two frames


def test_pages_with_maths_load_mathjax(tmp_path):
    src = tmp_path / "nbs"
    src.mkdir()
    nbformat.write(tiny("00", "Maths", links=r"Noise: $x_t = \sqrt{\bar\alpha_t}\,x_0$."), src / "00_maths.ipynb")
    bs.build_site(src, tmp_path / "site", None, repo=REPO)
    assert "mathjax" in (tmp_path / "site" / "00_maths.html").read_text().lower()


def test_rewrite_links_keeps_site_links_and_anchors():
    page = ('<a href="#Top">¶</a><a data-course-site href="index.html">map</a>'
            '<a href="02_b.ipynb">two</a><a class="x" href="./data/README.md">data</a>')
    out, missing = bs.rewrite_links(page, {"02_b"}, REPO)
    assert '<a href="#Top">' in out and '<a data-course-site href="index.html">' in out
    assert '<a href="02_b.html">two</a>' in out
    assert f'<a class="x" href="{REPO}/blob/main/notebooks/data/README.md">' in out
    assert missing == []


def test_notebook_title_and_clear_errors():
    assert bs.notebook_title(tiny("07", "Text to image"), "x") == ("07", "Text to image", "The text to image in one line.")
    bad = nbformat.v4.new_notebook()
    bad.cells = [nbformat.v4.new_markdown_cell("Welcome!")]
    with pytest.raises(ValueError, match=r"x\.ipynb.*# NN · Title"):
        bs.notebook_title(bad, "x.ipynb")


def test_missing_source_and_bad_times_are_clear_errors(tmp_path, two_books):
    with pytest.raises(FileNotFoundError, match="make course"):
        bs.build_site(tmp_path / "nowhere", tmp_path / "site", None, repo=REPO)
    bad = tmp_path / "bad.json"
    bad.write_text('{"seconds": {"00": "fast"}}')
    with pytest.raises(ValueError, match="rerun `make course`"):
        bs.load_times(bad)
    assert bs.load_times(tmp_path / "absent.json") == {}


def test_prepare_does_not_touch_the_original():
    nb = tiny("01", "Next", widget=True, colab=True)
    web = bs.prepare(nb)
    assert len(web.cells) == len(nb.cells) - 1 and "widgets" in nb.metadata and "widgets" not in web.metadata
    assert "application/vnd.jupyter.widget-view+json" in nb.cells[-1].outputs[1]["data"]


def test_recorded_seconds():
    assert bs.recorded_seconds(tiny("01", "Next", timed=True)) == 12.5
    assert bs.recorded_seconds(tiny("01", "Next")) is None


def test_main_prints_a_summary(two_books, tmp_path, capsys):
    src, times = two_books
    assert bs.main(["--src", str(src), "--out", str(tmp_path / "site"), "--times", str(times), "--no-story"]) == 0
    out = capsys.readouterr().out
    assert "2 pages + index" in out and "05_later.ipynb" in out


def _bar_state(left="training: 100%", right="20/20 [00:01&lt;00:00]", names=("HTMLModel", "FloatProgressModel", "HTMLModel")):
    kids = {f"k{i}": {"model_name": n, "state": {"value": v}} for i, (n, v) in enumerate(zip(names, (left, 20, right)))}
    kids["k1"]["state"]["max"] = 20
    return {"bar": {"model_name": "HBoxModel", "state": {"children": [f"IPY_MODEL_k{i}" for i in range(3)]}}, **kids}


def test_progress_bar_drawn_in_its_final_state():
    html_bar = bs.progress_bar_html("bar", _bar_state())
    assert '<progress value="20" max="20">' in html_bar and "training: 100%" in html_bar
    assert "[00:01&lt;00:00]" in html_bar and "&amp;lt;" not in html_bar       # escaped once
    assert bs.progress_bar_html("bar", _bar_state(names=("HTMLModel", "IntSliderModel", "HTMLModel"))) is None
    assert bs.progress_bar_html("missing", _bar_state()) is None


def test_prepare_turns_a_tqdm_widget_into_a_bar():
    nb = tiny("04", "Train", widget=True)
    nb.cells[-1].outputs[1]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] = "bar"
    nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"] = _bar_state()
    out = bs.prepare(nb).cells[-1].outputs[1]["data"]["text/html"]
    assert "course-progress" in out and "course-widget-note" not in out


def _stub_story(path: Path) -> tuple[str, str]:
    path.write_bytes(base64.b64decode(PNG))
    return "alt: noise <becoming> a squirrel", "Drawn from seed 1; notebook 01 says more."


def test_index_opens_with_the_story_picture(two_books, tmp_path):
    src, times = two_books
    site = tmp_path / "site"
    bs.build_site(src, site, times, repo=REPO, story=_stub_story)
    index = (site / "index.html").read_text()
    assert (site / "story.png").read_bytes() == base64.b64decode(PNG)
    assert '<img src="story.png" alt="alt: noise &lt;becoming&gt; a squirrel">' in index
    assert '<a href="01_next.html">notebook 01</a> says more.</figcaption>' in index
    assert index.index('src="story.png"') < index.index("Course map")          # the picture comes first
    bs.build_site(src, site, times, repo=REPO)                                   # none asked for: none, no stale file
    assert not (site / "story.png").exists() and "story.png" not in (site / "index.html").read_text()
    with pytest.raises(FileNotFoundError, match="story_picture"):
        bs.build_site(src, site, times, repo=REPO, story=lambda path: ("alt", "caption"))


def test_main_draws_the_story_picture_unless_told_not_to(two_books, tmp_path, monkeypatch):
    monkeypatch.setattr(sp, "draw_for_site", _stub_story)           # what main imports: the course's drawer
    src, times = two_books
    site = tmp_path / "site"
    assert bs.main(["--src", str(src), "--out", str(site), "--times", str(times)]) == 0
    assert (site / "story.png").is_file() and 'src="story.png"' in (site / "index.html").read_text()
    assert bs.main(["--src", str(src), "--out", str(site), "--times", str(times), "--no-story"]) == 0
    assert not (site / "story.png").exists()


def test_story_frames_are_the_seed_noise_becoming_the_picture(tiny_pipe):
    from course_utils.seeding import make_generator
    frames, titles = sp.story_frames(tiny_pipe)
    size = frames.shape[-1]
    assert frames.shape == (4, 3, size, size) and frames.min() >= -1 and frames.max() <= 1
    z = torch.randn(1, 4, 16, 16, generator=make_generator(sp.SEED))[0, :3]     # the seed's noise, 3 channels
    cell = size // 16
    assert torch.allclose(frames[0, :, ::cell, ::cell], ((z - z.mean()) / (2.5 * z.std())).clamp(-1, 1), atol=1e-6)
    final = tiny_pipe(sp.PROMPT, generator=make_generator(sp.SEED), num_inference_steps=sp.STEPS,
                      output_type="pt").images * 2 - 1
    assert (frames[3] - final[0]).abs().max() <= 1e-5                           # the last panel is the picture
    assert all((frames[i] - frames[j]).abs().mean() > 0.01 for i in range(4) for j in range(i + 1, 4))
    assert titles[0] == f"the noise of seed {sp.SEED}" and titles[1].startswith(f"after {sp.AFTER_STEPS[0]} of 25 steps")


@pytest.mark.slow
def test_story_picture_of_the_shipped_model(tmp_path):
    from PIL import Image
    alt, caption = sp.draw_for_site(tmp_path / "story.png")
    with Image.open(tmp_path / "story.png") as im:
        width, height = im.size
    assert 3 < width / height < 5 and width >= 800                               # four panels in a row
    assert sp.PROMPT in alt and str(sp.SEED) in caption and "notebook 07" in caption


def test_index_names_the_course_timing_run_when_no_make_course_record(tmp_path, two_books):
    src, _ = two_books
    run = tmp_path / "course_time_full.json"
    run.write_text(json.dumps({"command": "python benchmarks/course_time.py --mode full", "seconds": {"00_hello": 7.9},
                               "machine": {"cpu": "AMD EPYC", "cores": 2}, "date": "2026-01-01 12:00"}))
    bs.build_site(src, tmp_path / "site", run, repo=REPO)
    index = (tmp_path / "site" / "index.html").read_text()
    assert "8 s</td>" in index and "timing run" in index and "2-core AMD EPYC" in index
    assert "2026-01-01" not in index                           # the timing run's date lives in RESULTS.md
    assert "times-full.json" not in index                      # no build-log wording for the reader
    assert "* not in that run" in index                        # 01_* has no time in the run: marked


def test_main_falls_back_to_the_course_timing_run(monkeypatch, tmp_path, two_books):
    src, _ = two_books
    run = tmp_path / "course_time_full.json"
    run.write_text(json.dumps({"command": "c", "seconds": {"00_hello": 7.9}, "machine": {"cpu": "X", "cores": 2}}))
    monkeypatch.setattr(bs, "DEFAULT_TIMES", tmp_path / "absent.json")
    monkeypatch.setattr(bs, "TIMING_RUN", run)
    site = tmp_path / "site"
    assert bs.main(["--src", str(src), "--out", str(site), "--no-story", "--times", str(tmp_path / "absent.json")]) == 0
    assert "8 s</td>" in (site / "index.html").read_text()
