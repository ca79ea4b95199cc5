"""No glossary term appears in a notebook before the cell that defines it, in course order (00 … 11).

``docs/glossary.md`` has one ``## Term`` entry per word, with three machine-read lines:

    - **id:** `eta`
    - **spellings:** `η`, `eta`
    - **first defined in:** notebook 03, section "DDPM and DDIM from the same seed"

The defining markdown cell carries ``<!-- define: eta -->`` (invisible when rendered). For every entry this
test finds that cell, checks that it sits in the notebook and section the glossary names and spells the
term, and then that no earlier cell (markdown or code source; the generated Colab set-up cell excepted)
uses any of its spellings. A spelling with a capital letter matches exactly, an all-lowercase one in any
case; a spelling that starts (ends) with a letter or digit must not have another one just before (after) it.
Nothing is executed: the test reads the committed notebooks.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

from course_utils.paths import REPO as ROOT

GLOSSARY = ROOT / "docs" / "glossary.md"
NOTEBOOKS = ROOT / "notebooks"
MARKER = re.compile(r"<!--\s*define:\s*([\w-]+)\s*-->")
_FIELD = re.compile(r"^- \*\*(id|spellings|first defined in):\*\*\s*(.+)$", re.M)
_WHERE = re.compile(r'^notebook (\d\d), (?:section "(.+)"|(introduction))$')
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$", re.M)


def _section_name(level: str, heading: str) -> str:
    return "introduction" if level == "#" else heading       # the "# NN · Title" cell opens the introduction


@dataclass(frozen=True)
class Entry:
    title: str
    id: str
    spellings: tuple[str, ...]
    notebook: str          # "03"
    section: str           # a heading's text, or "introduction" (before the notebook's first ## heading)


@dataclass(frozen=True)
class Cell:
    notebook: str
    index: int
    kind: str
    source: str
    section: str           # the section in force where the cell starts

    def describe(self, offset: int = 0) -> str:
        return f"notebook {self.notebook}, cell {self.index} ({self.kind}, section {self.section_at(offset)!r})"

    def section_at(self, offset: int) -> str:
        """The section a position of this cell sits in: its own last heading before ``offset``, if any."""
        headings = _HEADING.findall(self.source[:offset]) if self.kind == "markdown" else []
        return self.section if not headings else _section_name(*headings[-1])


def parse_glossary(text: str) -> list[Entry]:
    """The entries of a glossary page: every ``## `` heading with its id, spellings and defining place."""
    entries = []
    for chunk in re.split(r"^## ", text, flags=re.M)[1:]:
        title = chunk.splitlines()[0].strip()
        fields = dict(_FIELD.findall(chunk))
        missing = {"id", "spellings", "first defined in"} - set(fields)
        if missing:
            raise ValueError(f"glossary entry {title!r} lacks the line(s) {sorted(missing)}: add "
                             "'- **id:** `…`', '- **spellings:** `…`, `…`' and "
                             "'- **first defined in:** notebook NN, section \"…\"' under its heading.")
        ids, spellings = re.findall(r"`([^`]+)`", fields["id"]), tuple(re.findall(r"`([^`]+)`", fields["spellings"]))
        where = _WHERE.match(fields["first defined in"].strip())
        if len(ids) != 1 or not spellings or not where:
            raise ValueError(f"glossary entry {title!r}: need one `id`, at least one `spelling` and "
                             f"'notebook NN, section \"…\"' (or 'notebook NN, introduction'); got {fields}.")
        entries.append(Entry(title, ids[0], spellings, where[1], where[2] or where[3]))
    return entries


def spelling_pattern(spelling: str) -> re.Pattern:
    """A regex for one spelling: smart case, and no letter or digit glued to an alphanumeric end."""
    body = re.escape(spelling)
    if spelling[0].isalnum():
        body = r"(?<![^\W_])" + body          # not preceded by a letter or digit (an underscore is fine)
    if spelling[-1].isalnum():
        body += r"(?![^\W_])"
    return re.compile(body, 0 if any(ch.isupper() for ch in spelling) else re.IGNORECASE)


def notebook_cells(paths: list[Path]) -> list[Cell]:
    """Every cell of the notebooks, in course order, with the section it sits in (Colab set-up excluded)."""
    cells = []
    for path in sorted(paths):
        section = "introduction"
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            item = Cell(path.name[:2], i, cell["cell_type"], "".join(cell["source"]), section)
            section = item.section_at(len(item.source))
            if "colab-setup" not in cell.get("metadata", {}).get("tags", []):
                cells.append(item)
    return cells


def problems(entry: Entry, cells: list[Cell]) -> list[str]:
    """What is wrong with one entry against the notebooks: an empty list when it is defined before use."""
    defining = [k for k, c in enumerate(cells) if entry.id in MARKER.findall(c.source)]
    if len(defining) != 1:
        return [f"{entry.title}: {len(defining)} cells carry '<!-- define: {entry.id} -->'; put it in exactly one "
                f"markdown cell, the one that defines the term (glossary: notebook {entry.notebook}, "
                f"{entry.section!r})."]
    where = cells[defining[0]]
    found = []
    marker = next(m for m in MARKER.finditer(where.source) if m[1] == entry.id)
    place = (where.notebook, where.section_at(marker.start()))
    if where.kind != "markdown" or place != (entry.notebook, entry.section):
        found.append(f"{entry.title}: the glossary says notebook {entry.notebook}, section {entry.section!r}, "
                     f"but the define marker is in notebook {place[0]}, section {place[1]!r} "
                     f"({where.describe(marker.start())}): "
                     "update docs/glossary.md or move the marker.")
    patterns = [spelling_pattern(s) for s in entry.spellings]
    if not any(p.search(MARKER.sub("", where.source)) for p in patterns):
        found.append(f"{entry.title}: the defining cell ({where.describe(marker.start())}) uses none of the "
                     f"spellings {entry.spellings}.")
    for cell in cells[:defining[0]]:
        for spelling, pattern in zip(entry.spellings, patterns):
            m = pattern.search(cell.source)
            if m:
                context = cell.source[max(0, m.start() - 40):m.end() + 40].replace("\n", " ")
                found.append(f"{entry.title}: {spelling!r} is used in {cell.describe(m.start())}, before it is "
                             f"defined in {where.describe(marker.start())}: "
                             f"…{context}… Define it there (and move the marker) or reword the earlier use.")
    return found


@lru_cache(maxsize=None)
def _entries() -> tuple[Entry, ...]:
    return tuple(parse_glossary(GLOSSARY.read_text(encoding="utf-8")))


@lru_cache(maxsize=None)
def _cells() -> tuple[Cell, ...]:
    return tuple(notebook_cells(list(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))))


# ----------------------------------------------------------------------------- the glossary itself
def test_glossary_has_the_terms_the_course_needs():
    entries = _entries()
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids)), f"duplicate glossary ids: {sorted({i for i in ids if ids.count(i) > 1})}"
    required = {"unet", "eps-prediction", "cfg", "classifier-guidance", "latent", "encoder-decoder", "ddpm", "ddim",
                "q-notation", "mlp", "time-embedding", "silu", "eta", "learning-rate", "warm-up",
                "cosine-lr-schedule", "checkpoint", "safetensors", "manifest", "solver-order", "ddpm-posterior",
                "x-T", "probability-flow-ode", "frechet", "fid", "judge-fid", "kl", "posterior", "psnr",
                "detail-ratio", "clip", "transformer", "cosine-similarity", "softmax", "logit", "dcgan",
                "adam-beta1", "distillation"}
    assert required <= set(ids), f"glossary entries missing: {sorted(required - set(ids))}"
    numbers = {c.notebook for c in _cells()}
    assert all(e.notebook in numbers for e in entries), [e for e in entries if e.notebook not in numbers]


@pytest.mark.parametrize("entry", _entries(), ids=lambda e: e.id)
def test_term_is_defined_before_its_first_use(entry):
    found = problems(entry, list(_cells()))
    assert not found, "\n".join(found)


def test_glossary_lists_terms_in_course_order():
    cells = list(_cells())
    first = {m: k for k, c in reversed(list(enumerate(cells))) for m in MARKER.findall(c.source)}
    order = [first.get(e.id, -1) for e in _entries()]
    late = [e.title for e, a, b in zip(_entries()[1:], order, order[1:]) if b < a]
    assert not late, f"docs/glossary.md promises course order; these entries come too late or too early: {late}"


def test_every_define_marker_names_a_glossary_entry():
    known = {e.id for e in _entries()}
    stray = [(c.describe(), m) for c in _cells() for m in MARKER.findall(c.source) if m not in known]
    assert not stray, f"define markers with no entry in docs/glossary.md: {stray}"


def test_readme_and_welcome_link_the_glossary():
    assert "docs/glossary.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    welcome = [c.source for c in _cells() if c.notebook == "00" and c.kind == "markdown"]
    assert any("../docs/glossary.md" in s for s in welcome), "notebook 00 must link ../docs/glossary.md"


# ----------------------------------------------------------------------------- the checker can fail
GLOSSARY_SAMPLE = '''# Glossary
## η (eta)
- **id:** `eta`
- **spellings:** `η`, `eta`
- **first defined in:** notebook 03, section "DDIM"

DDIM's noise knob.
'''


def _book(tmp_path: Path, cells: dict[str, list[tuple[str, str]]]) -> list[Cell]:
    for name, sources in cells.items():
        nb = {"cells": [{"cell_type": kind, "metadata": {}, "source": [src]} for kind, src in sources]}
        (tmp_path / name).write_text(json.dumps(nb), encoding="utf-8")
    return notebook_cells(list(tmp_path.glob("*.ipynb")))


def test_checker_passes_a_term_defined_first_and_catches_an_earlier_use(tmp_path):
    (entry,) = parse_glossary(GLOSSARY_SAMPLE)
    assert (entry.id, entry.spellings, entry.notebook, entry.section) == ("eta", ("η", "eta"), "03", "DDIM")
    defined = ("markdown", "## DDIM\nη sets the noise. <!-- define: eta -->")
    good = _book(tmp_path, {"02_a.ipynb": [("markdown", "# 02 · A\nno term here, nor in beta or theta")],
                            "03_b.ipynb": [("markdown", "# 03 · B"), defined, ("code", "step(eta=0.0)")]})
    assert problems(entry, good) == []
    bad = _book(tmp_path, {"02_a.ipynb": [("code", "sched.step(x, eta=1.0)")]})     # used one notebook early
    (message,) = problems(entry, bad)
    assert "'eta' is used in notebook 02, cell 0" in message and "notebook 03, cell 1" in message


def test_checker_catches_a_misplaced_or_missing_marker(tmp_path):
    (entry,) = parse_glossary(GLOSSARY_SAMPLE)
    elsewhere = _book(tmp_path, {"03_b.ipynb": [("markdown", "## Other\nη here <!-- define: eta -->")]})
    assert "but the define marker is in notebook 03, section 'Other'" in problems(entry, elsewhere)[0]
    later = _book(tmp_path, {"03_b.ipynb": [("markdown", "## DDIM\ntext\n## Other\nη <!-- define: eta -->")]})
    assert "section 'Other'" in problems(entry, later)[0]           # the heading above the marker counts
    earlier = _book(tmp_path, {"03_b.ipynb": [("markdown", "## DDIM\nη <!-- define: eta -->\n## Other\n")]})
    assert problems(entry, earlier) == []
    none = _book(tmp_path, {"03_b.ipynb": [("markdown", "## DDIM\nη here")]})
    assert "0 cells carry" in problems(entry, none)[0]
    with pytest.raises(ValueError, match="lacks the line"):
        parse_glossary("## Term\n- **id:** `t`\n")


def test_spelling_matches_whole_words_with_smart_case():
    assert spelling_pattern("UNet").search("a UNet here") and not spelling_pattern("UNet").search("UNet2DModel")
    assert not spelling_pattern("UNet").search("unet")                     # a capital: exact case
    assert spelling_pattern("latent").search("Latent space")              # all lowercase: any case
    assert spelling_pattern("lr").search('lr_schedule="cosine"') and not spelling_pattern("lr").search("url")
    assert spelling_pattern("q(").search("KL(q(z | x)") and not spelling_pattern("q(").search("q_sample(")
    assert not spelling_pattern("eta").search("beta") and spelling_pattern("η").search("(η = 0)")
