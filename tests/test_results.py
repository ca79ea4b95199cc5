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


def test_machine_says_where_a_result_was_measured():
    assert results.machine({"machine": {"cpu": "Intel(R) Xeon(R) Processor", "cores": 2, "gpu": None}}) == "a 2-core Intel Xeon"
    assert results.machine({"machine": {"cpu": "AMD EPYC", "cores": 2}}) == "a 2-core AMD EPYC"
    assert results.machine({"machine": {"cpu": "x", "cores": 16, "gpu": "NVIDIA H100"}}) == "a NVIDIA H100"


def test_the_stored_sampler_table_has_one_n_one_floor_and_no_bookkeeping():
    table = results.sampler_rows()
    assert table and all(r["n"] >= 500 for r in table.values()) and len({r["n"] for r in table.values()}) == 1
    text = results.format_sampler_rows(table)
    quality = results.load("sampler_quality")
    assert text.count("(floor)") == 1 and f"{quality['floor_fid']:.2f}" in text
    assert "benchmarks/results" not in text and ".json" not in text and quality["date"][:10] not in text
    assert results.machine(quality) in text.splitlines()[0]
    with pytest.raises(ValueError, match="one N"):
        results.format_sampler_rows({"a": dict(table[next(iter(table))]), "b": dict(table[next(iter(table))], n=64)})
    assert results.RESULTS_DIR == paths.RESULTS_DIR
