"""benchmarks/: run_all lists every script once, and RESULTS.md sections keep what each script printed."""
from __future__ import annotations

import json
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import run_all  # noqa: E402

from course_utils import results  # noqa: E402


def test_run_all_lists_every_benchmark_script_once():
    scripts = {p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_") and p.name != "run_all.py"}
    listed = [args[0] for _, args, _ in run_all.BENCHMARKS]
    assert set(listed) == scripts
    names = [name for name, _, _ in run_all.BENCHMARKS]
    assert len(names) == len(set(names))


def test_a_section_not_rerun_shows_what_the_script_printed_unless_its_json_is_newer(tmp_path, monkeypatch):
    monkeypatch.setattr(run_all, "RESULTS", tmp_path)
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    assert run_all.stored_section("render_speed") == []
    run_all.save_output("render_speed", "python benchmarks/render_speed.py", "size 64: 9 images/s", 12.0)
    section = "\n".join(run_all.stored_section("render_speed"))
    assert "size 64: 9 images/s" in section and "`python benchmarks/render_speed.py` (12 s) on " in section
    printed = json.loads((tmp_path / "render_speed.out.json").read_text())
    newer = {"name": "render_speed", "date": "9999-01-01 00:00", "machine": printed["machine"],
             "command": "python benchmarks/render_speed.py --n 5", "table": "the script's own newer table"}
    (tmp_path / "render_speed.json").write_text(json.dumps(newer))
    section = "\n".join(run_all.stored_section("render_speed"))
    assert "the script's own newer table" in section and "9 images/s" not in section
    assert "`python benchmarks/render_speed.py --n 5` on " in section
