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


def _editing_report(inversion_db=31.2, edits_all=0.85, img2img_db=18.9):
    """A report shaped like course_utils.editing_quality.editing_report's (inf: pasted back exactly)."""
    psnr = lambda mean: {"mean": mean, "min": mean - 1}                  # noqa: E731
    return {"n": 60, "seed": 70_000, "edit_steps": 50, "steps": 25, "edit_guidance": 3.0, "guidance": 7.5,
            "round_trip": {**psnr(20.1), "judge_all": 0.95, "judge_all_inputs": 1.0},
            "inversion": {"vs_round_trip": psnr(inversion_db), "vs_input": psnr(20.0)},
            "edits": {"all": edits_all, "changed": 0.95, "held_out_targets": 7, "all_seen_targets": 0.86,
                      "all_held_out_targets": 0.71,
                      "by_kind": {k: {"all": edits_all, "changed": 0.95, "n": 20}
                                  for k in ("subject", "place", "action")}},
            "inpainting": {"grow_px": 6, "mask_share": 0.16, "subject": 0.97, "all": 0.9,
                           "outside_keep_outside": {"mean": float("inf"), "min": float("inf")},
                           "outside_blended_vs_input": psnr(20.9), "outside_blended_vs_round_trip": psnr(24.1),
                           "judge_blended": {"subject": 0.95, "all": 0.9}},
            "img2img": {"strength": 0.3, "vs_input": psnr(img2img_db), "vs_round_trip": psnr(21.1)},
            "sweep": [{"strength": 0.3, "psnr_vs_input": 17.3, "target_all": 0.2, "changed": 0.2, "source_all": 0.4}],
            "seconds": {"round_trip": 1.0}}


def test_editing_quality_rows_say_met_or_not_from_the_stored_json(tmp_path, monkeypatch):
    import editing_quality as bench                                      # benchmarks/editing_quality.py
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    assert run_all.editing_targets(run_all.load("editing_quality")) == []
    stored = bench.finite(_editing_report())
    assert stored["inpainting"]["outside_keep_outside"] == {"mean": None, "min": None}     # JSON has no inf
    (tmp_path / "editing_quality.json").write_text(json.dumps({"name": "editing_quality", **stored}, allow_nan=False))
    rows = {target.split(" (")[0]: measured for target, _goal, measured in run_all.targets()
            if "inversion" in target or "edit" in target or "inpaint" in target or "img2img" in target
            or target.startswith("… outside")}
    assert len(rows) == 5
    assert rows["inversion: edit(p → p) against the VAE round trip, PSNR"].startswith("31.2 dB (min 30.2 dB), met")
    assert rows["one-word edits, judge reads the edited caption"] == \
        "85% (subject 85%, place 85%, action 85%), met; the new word read in 95%, all three to a seen / held-out " \
        "composition 86% / 71% (53 / 7)"
    assert rows["inpainting, judge reads the new animal"] == "97% (all three 90%), met"
    assert rows["… outside the mask, PSNR to the input"].startswith("exact, met (blended only: 20.9 dB / 24.1 dB)")
    assert rows["img2img at strength 0.3, PSNR to the input"] == \
        "18.9 dB, not met (21.1 dB; limit: the VAE's round trip alone is 20.1 dB)"
    worse = bench.finite(_editing_report(inversion_db=24.0, edits_all=0.7, img2img_db=22.5))
    (tmp_path / "editing_quality.json").write_text(json.dumps({"name": "editing_quality", **worse}))
    measured = [m for _t, _g, m in run_all.editing_targets(run_all.load("editing_quality"))]
    assert ", not met" in measured[0] and ", not met" in measured[1] and measured[4].startswith("22.5 dB, met")


def test_editing_quality_table_prints_exact_and_marks_each_target():
    import editing_quality as bench
    rows = {name: (target, measured, met) for name, target, measured, met in bench.table(_editing_report())}
    assert rows["inpainting, outside the mask, PSNR to the input (keep_outside)"] == ("≥ 30 dB", "exact", "met")
    assert rows["img2img at strength 0.3, PSNR to the input"][2] == "NOT met"
    assert "round trip: 20.1 dB" in rows["img2img at strength 0.3, PSNR to the input"][1]
    assert rows["inversion: edit(p → p), PSNR to the round trip"][2] == "met"
    assert bench.finite([float("inf"), {"a": float("-inf"), "b": 1.5}]) == [None, {"a": None, "b": 1.5}]
