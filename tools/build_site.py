"""Render the executed notebooks to a static HTML site: a course-map index and one page per notebook.

    python tools/build_site.py                      # build/notebooks → build/site (make course runs this)
    python tools/build_site.py --src notebooks      # from the committed notebooks (make site)

The index lists every notebook with the time it took to run: your own last ``make course``
(build/times-full.json, written by tools/run_notebooks.py), else the course's timing run
(benchmarks/results/course_time_full.json), else the cell timings nbclient recorded in the notebook. Each page
has the notebook's figures embedded as data: URIs, links to the other notebooks rewritten from
``NN_name.ipynb`` to ``NN_name.html`` (a link to a notebook that is not in the build becomes plain
text, and the builder says so), relative links to repository files pointed at the repository on
GitHub, and a bar with the course map, previous/next, Colab and Binder. Widget outputs need a live
kernel, so each is replaced by a short note (the static figure beside it carries the page), except
tqdm.auto progress bars, drawn in their final state from the saved widget state; the Colab set-up
cell is left out. No page loads a script from the network unless it has maths
(MathJax from its CDN; offline, the TeX source shows).

Why nbconvert's HTMLExporter: it is Jupyter's own renderer, maintained by the Jupyter project and
pinned in pyproject.toml already; it renders every output the course makes (PNG figures, HTML
animations from matplotlib's ``to_jshtml``, text, tables) with JupyterLab's own CSS, so a page looks
like the notebook. Jupyter Book, Quarto or MkDocs would add a second build system and its own
install for a site of ten pages.

The index opens with one picture of the course's story, seed 934743's noise becoming the squirrel in
four stages. The course draws it on every build (``tools/story_picture.py``, with the shipped model, a few
seconds on a CPU); ``--no-story`` leaves it out.
"""
from __future__ import annotations

import argparse
import html
import json
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Callable

import jinja2
import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIMES = ROOT / "build" / "times-full.json"                          # what `make course` writes
TIMING_RUN = ROOT / "benchmarks" / "results" / "course_time_full.json"      # the course's own timing run
sys.path.insert(0, str(ROOT))
from course_utils.colab import SETUP_TAG, binder_url, colab_url, repository_url, source_url  # noqa: E402

__all__ = ["SiteReport", "notebook_title", "load_times", "recorded_seconds", "progress_bar_html", "prepare",
           "rewrite_links",
           "build_site", "main"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ('<div class="course-widget-note">An interactive widget sits here. It needs a running '
               'kernel: open this notebook in JupyterLab, Binder or Colab to move it. A static figure '
               'next to it shows a few of its values.</div>')
_TITLE = re.compile(r"^#\s+(\d\d)\s*·\s*(.+?)\s*$")
_ANCHOR = re.compile(r'<a\b([^>]*?)\bhref="([^"]*)"([^>]*)>(.*?)</a>', re.S)
_MATH = re.compile(r"\$[^$\n]+\$|\\\(|\\\[|\\begin\{")

_PAGE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- if resources.course_has_math -%}{{ super() }}{%- endif -%}
{%- endblock html_head_js_mathjax -%}
{%- block html_head_css -%}<link rel="stylesheet" href="course.css">{%- endblock html_head_css -%}
{%- block body_header -%}{{ super() }}{{ resources.course_nav }}{%- endblock body_header -%}
{% block body_footer %}{{ resources.course_nav }}{{ super() }}{% endblock body_footer %}
"""

CSS = """
.course-nav { display: flex; flex-wrap: wrap; gap: .4em 1.2em; align-items: center; margin: .6em auto;
  padding: .5em 1em; max-width: 1100px; background: #f2f7fb; border-left: 4px solid #0072B2;
  font: 14px/1.4 system-ui, sans-serif; }
.course-nav a { color: #0072B2; text-decoration: none; } .course-nav a:hover { text-decoration: underline; }
.course-nav .course-spacer { flex: 1; }
.course-widget-note { padding: .5em .8em; border: 1px dashed #E69F00; background: #fff8e8; color: #333;
  font: 13px/1.4 system-ui, sans-serif; }
.course-progress { display: flex; gap: .6em; align-items: center; font: 13px/1.4 monospace; color: #333; }
.course-progress progress { width: 16em; accent-color: #0072B2; }
.course-missing { color: #555; border-bottom: 1px dotted #999; cursor: help; }
body.course-index { font: 16px/1.5 system-ui, sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em;
  color: #222; }
.course-index h1 { margin-bottom: .1em; } .course-index .sub { color: #555; font-style: italic; margin-top: 0; }
.course-index table { border-collapse: collapse; width: 100%; margin: 1em 0; }
.course-index th, .course-index td { text-align: left; padding: .45em .6em; border-bottom: 1px solid #ddd;
  vertical-align: top; }
.course-index th { background: #f2f7fb; } .course-index td.num, .course-index td:nth-child(2) { white-space: nowrap; } .course-index td.num { text-align: right; }
.course-index a { color: #0072B2; } .course-index .note { color: #555; font-size: 14px; }
.course-story { margin: 1.2em 0; } .course-story img { width: 100%; height: auto; }
.course-story figcaption { color: #444; font-size: 14px; }
"""
STORY_FILE = "story.png"          # the front page's picture, drawn into the site folder by tools/story_picture.py


@dataclass
class SiteReport:
    """What ``build_site`` wrote: pages (notebook stem → html file), links it could not keep, bytes."""
    out: Path
    pages: dict[str, Path] = field(default_factory=dict)
    missing_links: list[tuple[str, str]] = field(default_factory=list)    # (page, target)
    size_bytes: int = 0


def notebook_title(nb: nbformat.NotebookNode, name: str) -> tuple[str, str, str]:
    """``(number, title, subtitle)`` from the first cell: ``# NN · Title`` then an italic line."""
    first = nb.cells[0] if nb.cells else None
    lines = first.source.strip().splitlines() if first is not None and first.cell_type == "markdown" else []
    m = _TITLE.match(lines[0]) if lines else None
    if not m:
        raise ValueError(f"{name}: the first cell must be markdown starting '# NN · Title' (CONTRIBUTING.md); "
                         f"found {lines[0][:60] if lines else 'no markdown title'!r}.")
    subtitle = next((ln.strip().strip("*_").strip() for ln in lines[1:] if ln.strip()), "")
    return m.group(1), m.group(2), subtitle


def load_times(path: Path) -> dict:
    """The record tools/run_notebooks.py writes (``{"seconds": {stem: s}, ...}``); ``{}`` if absent."""
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text())
        seconds = record["seconds"]
        if not all(isinstance(v, (int, float)) for v in seconds.values()):
            raise TypeError("non-numeric time")
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{path} is not a times record from tools/run_notebooks.py ({err}); "
                         "delete it or rerun `make course`.") from None
    return record


def recorded_seconds(nb: nbformat.NotebookNode) -> float | None:
    """Seconds from the first cell's start to the last cell's reply, from nbclient's cell timings."""
    stamps = []
    for cell in nb.cells:
        ex = cell.get("metadata", {}).get("execution", {})
        for key in ("iopub.execute_input", "shell.execute_reply"):
            if key in ex:
                stamps.append(datetime.fromisoformat(ex[key].replace("Z", "+00:00")))
    return round((max(stamps) - min(stamps)).total_seconds(), 1) if len(stamps) >= 2 else None


def progress_bar_html(model_id: str, state: dict) -> str | None:
    """A tqdm.auto bar (an HBox of HTML, FloatProgress, HTML) as static HTML in its final state, or None."""
    model = state.get(model_id, {})
    if model.get("model_name") != "HBoxModel":
        return None
    kids = [state.get(str(ref).removeprefix("IPY_MODEL_"), {}) for ref in model.get("state", {}).get("children", [])]
    names = [k.get("model_name") for k in kids]
    if names != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None
    left, bar, right = (k.get("state", {}) for k in kids)
    value, top = float(bar.get("value", 0)), float(bar.get("max", 1) or 1)
    def text(k: dict) -> str:         # an HTML widget's value, as text: escaped once, whatever tqdm did
        return html.escape(html.unescape(str(k.get("value", ""))))

    return (f'<div class="course-progress"><span>{text(left)}</span><progress value="{value:g}" max="{top:g}">'
            f'</progress><span>{text(right)}</span></div>')


def prepare(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy for the web: no Colab set-up cell, no saved widget state; a tqdm.auto bar becomes a static
    bar in its final state, any other widget output a note (its static figure sits next to it)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells = [c for c in nb.cells if SETUP_TAG not in c.get("metadata", {}).get("tags", [])]
    widgets = nb.metadata.pop("widgets", {})
    state = widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if WIDGET_VIEW in out.get("data", {}):
                bar = progress_bar_html(out["data"][WIDGET_VIEW].get("model_id", ""), state)
                out["data"] = {"text/html": bar or WIDGET_NOTE}
    return nb


def rewrite_links(page_html: str, pages: set[str], repo: str, page: str = "") -> tuple[str, list[str]]:
    """``X.ipynb`` → ``X.html`` when X is in ``pages``, else plain text; ``../path`` → the file on GitHub.

    Returns the new HTML and the notebook targets that are not in the site.
    """
    missing: list[str] = []

    def fix(m: re.Match) -> str:
        before, href, after, text = m.groups()
        if "data-course-site" in before + after:          # the site's own links (navigation bar)
            return m.group(0)
        if href.startswith(("#", "http://", "https://", "mailto:", "data:", "//")) or not href:
            return m.group(0)
        path, _, frag = href.partition("#")
        pure = PurePosixPath(path)
        if pure.suffix == ".ipynb" and len(pure.parts) == 1:
            if pure.stem in pages:
                return f'<a{before}href="{pure.stem}.html{"#" + frag if frag else ""}"{after}>{text}</a>'
            missing.append(pure.name)
            return f'<span class="course-missing" title="{html.escape(pure.name)} is not in this build yet">{text}</span>'
        # any other relative link points into the repository, seen from notebooks/
        parts: list[str] = ["notebooks"]
        for part in pure.parts:
            if part == "..":
                if not parts:
                    return m.group(0)
                parts.pop()
            elif part != ".":
                parts.append(part)
        target = source_url("/".join(parts), repo) + (f"#{frag}" if frag else "")
        return f'<a{before}href="{target}"{after}>{text}</a>'

    return _ANCHOR.sub(fix, page_html), missing


def _nav(stem: str, order: list[str], titles: dict[str, str], repo: str) -> str:
    i = order.index(stem)
    prev = (f'<a data-course-site href="{order[i - 1]}.html">← {html.escape(titles[order[i - 1]])}</a>'
            if i > 0 else "")
    nxt = (f'<a data-course-site href="{order[i + 1]}.html">{html.escape(titles[order[i + 1]])} →</a>'
           if i + 1 < len(order) else "")
    name = f"{stem}.ipynb"
    return (f'<nav class="course-nav"><a data-course-site href="index.html">Course map</a>{prev}{nxt}<span class="course-spacer"></span>'
            f'<a href="{colab_url(name, repo)}">Open in Colab</a><a href="{binder_url(name, repo)}">Launch Binder</a>'
            f'<a href="{source_url("notebooks/" + name, repo)}">.ipynb on GitHub</a></nav>')


def _story(words: tuple[str, str] | None, pages: set[str]) -> str:
    """The index's picture: ``words`` is (alt text, caption), plain text; "notebook NN" links to its page."""
    if words is None:
        return ""
    alt, caption = (html.escape(w) for w in words)
    for stem in sorted(pages):
        caption = caption.replace(f"notebook {stem[:2]}", f'<a href="{stem}.html">notebook {stem[:2]}</a>', 1)
    return (f'<figure class="course-story"><img src="{STORY_FILE}" alt="{alt}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _index(rows: list[dict], times: dict, repo: str, story: tuple[str, str] | None = None) -> str:
    body = []
    for r in rows:
        secs = "—" if r["seconds"] is None else f'{r["seconds"]:.0f} s{"" if r["from_record"] else "*"}'
        body.append(f'<tr><td>{r["number"]}</td><td><a href="{r["stem"]}.html">{html.escape(r["title"])}</a></td>'
                    f'<td>{html.escape(r["subtitle"])}</td><td class="num">{secs}</td></tr>')
    total = sum(r["seconds"] or 0 for r in rows)
    if "machine" in times:              # the course's timing run (benchmarks/results/course_time_full.json)
        m = times["machine"]
        where = (f'from the course\'s timing run (<code>{html.escape(times.get("command", "course_time.py"))}</code>) '
                 f'on a {m.get("cores", "?")}-core {html.escape(str(m.get("cpu", "?")))} with nothing else running')
    elif times:                         # the reader's own `make course`
        where = (f'measured by <code>make course</code> (full mode) on {times.get("date", "?")}, '
                 f'{times.get("threads", "?")} CPU threads')
    else:
        where = "from the notebooks' own cell timings (kernel start not counted)"
    star = ("<br>* not in that run: from the notebook's own cell timings (kernel start not counted)."
            if times and any(not r["from_record"] and r["seconds"] is not None for r in rows) else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>How diffusion draws: the course map</title><link rel="stylesheet" href="course.css"></head>
<body class="course-index">
<h1>How diffusion draws</h1>
<p class="sub">A Jupyter course on how seeded noise and a prompt become a picture, run on your own CPU.</p>
<p><a href="{binder_url(None, repo)}">Launch on Binder</a> · <a href="{colab_url(rows[0]["stem"] + ".ipynb", repo)}">Open in Colab</a>
· <a href="{repo}">Source on GitHub</a></p>
{_story(story, {r["stem"] for r in rows})}
<h2>Course map</h2>
<table><thead><tr><th>#</th><th>notebook</th><th>what it shows</th><th>time to run</th></tr></thead>
<tbody>
{chr(10).join(body)}
<tr><td></td><td><b>all notebooks</b></td><td></td><td class="num"><b>{total:.0f} s</b></td></tr>
</tbody></table>
<p class="note">Times are wall-clock seconds to run each notebook, {where}.{star}</p>
</body></html>
"""


def build_site(src: Path, out: Path, times_path: Path | None = None, repo: str | None = None,
               story: Callable[[Path], tuple[str, str]] | None = None) -> SiteReport:
    """Render ``src/NN_*.ipynb`` into ``out/`` (index.html, NN_name.html, course.css) and return a report.

    ``story(path)`` draws the index's picture at ``out/story.png`` and returns its (alt text, caption):
    ``story_picture.draw_for_site``, which ``main`` passes. Without it the index has no picture.
    """
    src, out = Path(src), Path(out)
    books = sorted(src.glob("[0-9][0-9]_*.ipynb")) if src.is_dir() else []
    if not books:
        raise FileNotFoundError(f"no NN_*.ipynb notebooks in {src}; run `make course` first (it executes them "
                                "into build/notebooks), or pass --src notebooks.")
    repo = repo or repository_url()
    times = load_times(times_path) if times_path else {}
    notebooks = {p.stem: nbformat.read(p, as_version=4) for p in books}
    order = list(notebooks)
    meta = {stem: notebook_title(nb, f"{stem}.ipynb") for stem, nb in notebooks.items()}
    titles = {stem: f"{num} · {title}" for stem, (num, title, _) in meta.items()}
    exporter = HTMLExporter(template_name="lab", extra_loaders=[jinja2.DictLoader({"course.html.j2": _PAGE_TEMPLATE})],
                            template_file="course.html.j2")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.html"):
        old.unlink()
    (out / "course.css").write_text(CSS)
    report, rows = SiteReport(out=out), []
    for stem, nb in notebooks.items():
        web = prepare(nb)
        has_math = any(_MATH.search(c.source) for c in web.cells if c.cell_type == "markdown")
        resources = {"course_nav": _nav(stem, order, titles, repo), "course_has_math": has_math,
                     "metadata": {"name": titles[stem]}}
        body, _ = exporter.from_notebook_node(web, resources=resources)
        body, missing = rewrite_links(body, set(order), repo, stem)
        report.missing_links += [(stem, m) for m in missing]
        page = out / f"{stem}.html"
        page.write_text(body, encoding="utf-8")
        report.pages[stem] = page
        seconds = times.get("seconds", {}).get(stem)
        rows.append({"stem": stem, "number": meta[stem][0], "title": meta[stem][1], "subtitle": meta[stem][2],
                     "seconds": seconds if seconds is not None else recorded_seconds(nb),
                     "from_record": seconds is not None})
    (out / STORY_FILE).unlink(missing_ok=True)                   # never a picture from an earlier build
    words = None
    if story is not None:
        words = story(out / STORY_FILE)
        if not (out / STORY_FILE).is_file():
            raise FileNotFoundError(f"the story picture was not written to {out / STORY_FILE}; "
                                    "run `python tools/story_picture.py` to see why.")
    index = _index(rows, times, repo, words)
    (out / "index.html").write_text(index, encoding="utf-8")
    report.size_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, default=ROOT / "build" / "notebooks", help="executed notebooks")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site", help="where the site goes")
    parser.add_argument("--times", type=Path, default=DEFAULT_TIMES,
                        help="times record (default: your last `make course`, else the course's timing run)")
    parser.add_argument("--no-story", action="store_true", help="leave the front page's picture out")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    story = None
    if not args.no_story:
        from story_picture import draw_for_site          # torch and the model, only when drawing
        story = draw_for_site
    times = args.times
    if not times.is_file() and args.times == DEFAULT_TIMES:    # no `make course` yet: the course's timing run
        times = TIMING_RUN
    report = build_site(args.src, args.out, times, story=story)
    for page, target in report.missing_links:
        print(f"  note: {page} links to {target}, which is not in this build (shown as plain text)")
    print(f"Site: {len(report.pages)} pages + index in {report.out} ({report.size_bytes / 1e6:.1f} MB, "
          f"{time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
