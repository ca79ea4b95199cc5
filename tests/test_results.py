"""The one reader of stored benchmark results (course_utils/results.py)."""
from __future__ import annotations

import json

import pytest

from course_utils import paths, results


def test_load_reads_a_stored_result_and_explains_a_missing_one(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    (tmp_path / "x.json").write_text(json.dumps({"name": "x", "date": "2026-01-01", "command": "python benchmarks/x.py",
                                                 "machine": {"torch_threads": 2}}))
    data = results.load("x")
    assert data["command"] == "python benchmarks/x.py"
    assert results.source(data, "[1]") == "[1] benchmarks/results/x.json, 2026-01-01, 2 torch thread(s): python benchmarks/x.py"
    with pytest.raises(FileNotFoundError, match=r"python benchmarks/nope\.py"):
        results.load("nope")
    assert results.load("nope", missing_ok=True) is None
    with pytest.raises(ValueError, match="benchmark's name"):
        results.load("x.json")


def test_the_stored_sampler_table_has_only_large_runs_and_both_sources():
    table = results.sampler_rows()
    assert "real renders [2]" in table and any(k.endswith("[1]") for k in table)
    assert all(r["n"] >= 500 for r in table.values())
    text = results.format_sampler_rows(table)
    assert text.count("benchmarks/results/") == 2 and "real-vs-real floor" in text
    assert results.RESULTS_DIR == paths.RESULTS_DIR
