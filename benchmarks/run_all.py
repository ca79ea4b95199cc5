"""Run every benchmark and write benchmarks/RESULTS.md (date, machine, each command and its output).

    .venv/bin/python benchmarks/run_all.py            # everything that takes minutes, not hours
    .venv/bin/python benchmarks/run_all.py --slow     # also the full-mode course and ≥500-sample quality runs
    .venv/bin/python benchmarks/run_all.py --only training_throughput course_time

Benchmarks are not tests: they measure, print and record; nothing here asserts a speed.
Each script also leaves benchmarks/results/<name>.json, from which the targets table is read.
run_all keeps what each script printed in results/<name>.out.json, so a section not rerun this time
shows the same text as when it ran (some scripts, like render_speed, only print).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _common import RESULTS, machine

from course_utils import results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: (name, script and arguments, slow?) — run in this order.
BENCHMARKS: list[tuple[str, list[str], bool]] = [
    ("render_speed", ["render_speed.py"], False),
    ("judge_accuracy", ["judge_accuracy.py"], False),
    ("metrics_floor", ["metrics_floor.py"], False),
    ("training_throughput", ["training_throughput.py"], False),
    ("sampler_speed", ["sampler_speed.py"], False),
    ("text_to_image_speed", ["text_to_image_speed.py"], False),
    ("word_localisation", ["word_localisation.py"], False),
    ("autoencoder_quality", ["autoencoder_quality.py"], False),
    ("autocast_speed", ["autocast_speed.py"], False),
    ("editing_quality", ["editing_quality.py"], False),
    ("pixel_guidance", ["pixel_guidance.py"], True),
    ("course_time_fast", ["course_time.py", "--mode", "fast"], False),
    ("install", ["install_time.py"], True),
    ("course_time_full", ["course_time.py", "--mode", "full"], True),
    ("sampler_quality", ["sampler_quality.py"], True),
    ("text_to_image_adherence", ["text_to_image_adherence.py"], True),
    ("text_to_image_quality", ["text_to_image_quality.py"], True),
    ("compare_generators", ["compare_generators.py"], True),
    ("personalise", ["personalise.py"], True),
]


def load(name: str) -> dict | None:
    """A stored result, or None if that benchmark has not been run here yet."""
    return results.load(name, missing_ok=True)


def save_output(name: str, command: str, text: str, seconds: float) -> None:
    """Keep what a benchmark printed (results/<name>.out.json) for reports that do not rerun it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {"name": name, "date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), "command": command,
              "seconds": round(seconds, 1), "output": text}
    (RESULTS / f"{name}.out.json").write_text(json.dumps(record, indent=2) + "\n")


def stored_section(name: str) -> list[str]:
    """RESULTS.md lines for a benchmark not rerun this time: its printed output from its last run_all,
    unless the script has been run on its own since (then its result JSON, newer, is shown)."""
    printed, stored = load(f"{name}.out"), load(name)
    if printed and (stored is None or printed["date"] >= stored.get("date", "")):
        source, command, text = printed, f"`{printed['command']}` ({printed['seconds']:.0f} s)", printed["output"]
    elif stored:
        source, command = stored, f"`{stored.get('command', name)}`"
        text = stored.get("table") or json.dumps({k: v for k, v in stored.items()
                                                  if k not in ("name", "machine", "command", "date")}, indent=1)
    else:
        return []
    m = source["machine"]
    return [f"## {name} (stored result of {source.get('date', '?')}, not rerun this time)", "",
            f"{command} on {m['cores']} cores, {m['torch_threads']} torch threads", "", "```", text, "```", ""]


def _fmt(value, fmt: str) -> str:
    return "not measured yet" if value is None else format(value, fmt)


def targets() -> list[tuple[str, str, str]]:
    """(target, goal, measured) rows, read from the results files."""
    rows = []
    tt = load("training_throughput")
    if tt:
        largest = max(tt["rows"], key=lambda r: r["params"])
        rows.append((f"training of the largest model ({largest['model']}) vs matmul ceiling", "≥ 35%",
                     f"{largest['share_of_ceiling']:.0%} ({largest['gflops']:.1f} of {tt['matmul_ceiling_gflops']:.1f} GFLOP/s)"))
    t2i = load("text_to_image_speed") or {}
    rows.append((f"text-to-image, {t2i.get('size', 64)} px, 25 steps, guidance", "≤ 0.5 s/image",
                 _fmt(t2i.get("pipeline_s_per_image"), ".2f") + (" s" if t2i.get("pipeline_s_per_image") else "")))
    rows.append(("course's own sampler loop vs diffusers' pipeline", "≤ 1.05×", _fmt(t2i.get("own_loop_ratio"), ".2f")))
    for mode, goal in (("full", "≤ 8 min"), ("fast", "≤ 10 min")):
        ct = load(f"course_time_{mode}")
        rows.append((f"make course, {mode} mode", goal, f"{ct['total'] / 60:.1f} min" if ct else "not measured yet"))
    for stem in ("10_editing_and_control", "11_make_it_yours"):
        seconds = (load("course_time_full") or {}).get("seconds", {}).get(stem)
        rows.append((f"notebook {stem[:2]}, full mode", "≤ 90 s", "not measured yet" if seconds is None else f"{seconds:.0f} s"))
    sq = load("sampler_quality") or {}
    cg = {r["model"]: r for r in (load("compare_generators") or {}).get("rows", [])}
    ddim = sq.get("samplers", {}).get("DDIM-25")
    if ddim and sq.get("floor_fid"):
        rows.append((f"pixel denoiser, judge-FID of DDIM-25 samples / real-vs-real floor (N={ddim['n']})", "≤ 3×",
                     f"{ddim['judge_fid'] / sq['floor_fid']:.1f}× ({ddim['judge_fid']:.2f} vs {sq['floor_fid']:.2f}); "
                     f"coverage {ddim['coverage']:.2f}"))
    ratio = sq.get("ddim25_over_ddpm1000_fid")
    if ratio is not None:
        measured = f"{ratio:.2f} (sampler_quality, N={sq.get('ratio_n')})"
    elif "diffusion DDIM-25" in cg and "diffusion DDPM-1000" in cg:
        a, b = cg["diffusion DDIM-25"], cg["diffusion DDPM-1000"]
        measured = f"{a['fid'] / b['fid']:.2f} ({a['fid']:.2f} / {b['fid']:.2f}, compare_generators, N={b['samples']})"
    else:
        measured = None
    rows.append(("judge-FID, DDIM-25 / DDPM-1000", "≤ 1.5×", measured or "not measured yet"))
    adh = load("text_to_image_adherence")
    if adh:
        default = adh.get("default_guidance", 7.5)      # the pipeline's default when the benchmark ran
        row = min(adh["rows"], key=lambda r: abs(r["guidance_scale"] - default))
        w = row["guidance_scale"]
        for group, goal in (("seen", "≥ 97%"), ("held_out", "≥ 92%"), ("squirrel", "≥ 92%")):
            rows.append((f"text-to-image adherence, {group.replace('_', '-')} compositions (guidance {w:g})", goal,
                         f"{row[group]['all']:.1%} of {row[group]['n']}"))
    tq = load("text_to_image_quality")
    if tq:
        rows.append((f"text-to-image judge-FID / real-vs-real floor ({tq['n']} samples, {tq['size']} px, guidance "
                     f"{tq['guidance_scale']:g})", "≤ 2.5×",
                     f"{tq['fid_over_floor']:.2f}× ({tq['judge_fid']:.2f} vs {tq['judge_fid_floor']:.2f})"))
        rows.append(("… detail (mean |Laplacian|) of samples / renders", "0.8–1.2", f"{tq['detail_ratio']:.2f}"))
        # the same measure at other guidance scales, and for the model before the subject rebuild (--name runs)
        others = [(label, load(f"text_to_image_quality-{suffix}")) for label, suffix in (
            ("this model, w = 4", "w4"), ("its 2,400-step UNet before the 4,800-step one, w = 7.5", "w7.5"),
            ("the model before the subject rebuild, w = 4", "before26-w4"),
            ("the model before the subject rebuild, w = 7.5", "before26-w7.5"))]
        if any(r for _, r in others):
            rows.append(("… judge-FID / floor at other guidance scales, and of the model before the rebuild", "reported",
                         "; ".join(f"{label} {r['fid_over_floor']:.2f}× ({r['judge_fid']:.2f})" for label, r in others if r)))
    aq = load("autoencoder_quality")
    if aq:
        at = f"{aq['size']} px, f = {aq['factor']}"
        # compared with the model before issue #26's retraining when the run measured it (--baseline), else with
        # the shipped autoencoder before its decoder fine-tune
        models = aq.get("models", {})
        label, before = next(((lab, models[k]) for k, lab in (("baseline", "the model before the subject rebuild"),
                                                              ("before_decoder_finetune", "before the decoder fine-tune"))
                              if k in models), (None, None))
        was = lambda key, unit="": f" ({label} {before[key]:.2f}{unit})" if before and key in before else ""  # noqa: E731
        rows.append((f"text-to-image autoencoder, PSNR of the round trip ({at}, {aq['n']} renders)", "≥ 23 dB",
                     f"{aq['psnr_db']:.1f} dB" + was("psnr_db", " dB")))
        if "subject_psnr_db" in aq:
            rows.append(("… PSNR inside the animal and prop masks", "≥ 20 dB",
                         f"{aq['subject_psnr_db']:.1f} dB" + was("subject_psnr_db", " dB")))
        rows.append(("… judge adherence of its reconstructions", "≥ 99.5%", f"{aq['judge_adherence']:.1%}"))
        rows.append(("… detail (mean |Laplacian|) of reconstructions / originals", "0.85–1.15",
                     f"{aq['detail_ratio']:.2f}" + (f", subject {aq['subject_detail_ratio']:.2f}"
                                                   if "subject_detail_ratio" in aq else "")))
        if "redraw" in aq and before and "redraw" in before:
            gain = aq["redraw"]["subject_psnr_db"] - before["redraw"]["subject_psnr_db"]
            rows.append((f"redraw fidelity: img2img at strength 0.5, PSNR inside the masks ({aq['redraw']['n']} renders)",
                         "up ≥ 3 dB", f"{aq['redraw']['subject_psnr_db']:.1f} dB, {gain:+.1f} dB on "
                         f"{before['redraw']['subject_psnr_db']:.1f} dB ({label})"))
    ac = load("autocast_speed")
    if ac:
        rows.append(("bf16 autocast / fp32, training step time (recipes: bf16 where faster)", "reported",
                     "; ".join(f"{r['stage'].split(':')[0].split(',')[0]} {r['bf16_speedup']:.2f}× as fast"
                               for r in ac["rows"])))
    wl = load("word_localisation")
    if wl:
        for name, word, goal in (("animal", "subject word on the animal", "≥ 2×"),
                                 ("place", "place word on its region", "reported")):
            r = wl["rows"]["held_out"][name]
            rows.append((f"cross-attention of the {word}, mass share / area share ({wl['rows']['held_out']['n']} "
                         f"held-out renders, {wl['rows']['held_out']['map_side']}² maps)", goal, f"{r['ratio']:.2f}×"))
    rows += editing_targets(load("editing_quality"))
    rows += personalise_targets(load("personalise"))
    if cg:
        rows.append(("judge-FID at 500 samples: VAE / GAN / diffusion DDIM-25 (lower is better)", "reported",
                     " / ".join(f"{cg[m]['fid']:.1f}" for m in ("VAE", "GAN", "diffusion DDIM-25") if m in cg)))
    return rows


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def personalise_targets(pr: dict | None) -> list[tuple[str, str, str]]:
    """Issue #28's rows (notebook 11's adapters), from benchmarks/personalise.py."""
    if not pr:
        return []
    r, rows = pr["rows"], []
    for name, goal in (("textual inversion", "≥ 50%"), ("LoRA", "≥ 80%"), ("DreamBooth, prior kept", "≥ 80%")):
        rows.append((f"new animal read by the recogniser on unseen scenes, {name} ({r[name]['n_unseen']} samples)",
                     goal, f"{r[name]['success']:.0%}"))
    rows.append(("… action and place kept (judge), TI / LoRA / DreamBooth", "≥ 85%",
                 " / ".join(f"{r[n]['kept']:.0%}" for n in ("textual inversion", "LoRA", "DreamBooth, prior kept"))))
    for name in ("LoRA", "DreamBooth, prior kept", "DreamBooth, no prior"):
        rows.append((f"drift on the 108 seen compositions, {name} (points of adherence lost)",
                     "reported" if name.endswith("no prior") else "≤ 2", f"{r[name]['drift_points']:+.1f}"))
    for name in ("textual inversion", "LoRA", "DreamBooth, prior kept"):
        rows.append((f"training time, {name} ({r[name]['threads']} thread(s))", "≤ 5 min",
                     f"{r[name]['train_seconds'] / 60:.1f} min"))
    rows.append(("LoRA file / UNet file", "≤ 1/20", f"1/{pr['unet_bytes'] / r['LoRA']['bytes']:.0f}"))
    return rows


def editing_targets(ed: dict | None) -> list[tuple[str, str, str]]:
    """Issue #19's rows (notebook 10's edits), from benchmarks/results/editing_quality.json; an exact PSNR is null."""
    if not ed:
        return []
    db = lambda v: "exact" if v is None else f"{v:.1f} dB"             # noqa: E731
    share = lambda v: "none" if v is None else f"{v:.0%}"              # noqa: E731
    rt, inv, edits, ip, i2i = ed["round_trip"]["mean"], ed["inversion"], ed["edits"], ed["inpainting"], ed["img2img"]
    n = f"{ed['n']} renders"
    outside = ip["outside_keep_outside"]["mean"]
    kinds = ", ".join(f"{kind} {v['all']:.0%}" for kind, v in edits["by_kind"].items())
    return [
        (f"inversion: edit(p → p) against the VAE round trip, PSNR ({n}, {ed['edit_steps']} DDIM steps)", "≥ 25 dB",
         f"{db(inv['vs_round_trip']['mean'])} (min {db(inv['vs_round_trip']['min'])}), "
         f"{_met(inv['vs_round_trip']['mean'] >= 25)}"),
        (f"one-word edits, judge reads the edited caption ({n}, w = {ed['edit_guidance']:g})", "≥ 80%",
         f"{edits['all']:.0%} ({kinds}), {_met(edits['all'] >= 0.8)}; the new word read in {edits['changed']:.0%}, "
         f"all three to a seen / held-out composition {share(edits.get('all_seen_targets'))} / "
         f"{share(edits.get('all_held_out_targets'))} ({ed['n'] - edits['held_out_targets']} / "
         f"{edits['held_out_targets']})"),
        (f"inpainting, judge reads the new animal ({n}, animal mask + {ip['grow_px']} px)", "≥ 80%",
         f"{ip['subject']:.0%} (all three {ip['all']:.0%}), {_met(ip['subject'] >= 0.8)}"),
        ("… outside the mask, PSNR to the input (pasted back; blended in latent space only: to the input / "
         "round trip)",
         "≥ 30 dB", f"{db(outside)}, {_met(outside is None or outside >= 30)} (blended only: "
         f"{db(ip['outside_blended_vs_input']['mean'])} / {db(ip['outside_blended_vs_round_trip']['mean'])})"),
        (f"img2img at strength 0.3, PSNR to the input (to the round trip; {n})", "≥ 22 dB",
         f"{db(i2i['vs_input']['mean'])}, {_met(i2i['vs_input']['mean'] >= 22)} ({db(i2i['vs_round_trip']['mean'])}; "
         f"limit: the VAE's round trip alone is {db(rt)})"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slow", action="store_true", help="include the runs that take tens of minutes")
    parser.add_argument("--only", nargs="*", help="run only these benchmarks (names above)")
    args = parser.parse_args()
    outputs: dict[str, tuple[str, str, float]] = {}
    for name, argv, slow in BENCHMARKS:
        if (args.only and name not in args.only) or (slow and not args.slow and not args.only):
            continue
        if not (HERE / argv[0]).exists():
            outputs[name] = (" ".join(argv), f"(skipped: benchmarks/{argv[0]} does not exist yet)", 0.0)
            continue
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, str(HERE / argv[0]), *argv[1:]], cwd=ROOT, capture_output=True, text=True)
        text = done.stdout.strip() + (f"\n(exit {done.returncode})\n{done.stderr.strip()[-1500:]}" if done.returncode else "")
        outputs[name] = ("python benchmarks/" + " ".join(argv), text, time.perf_counter() - t0)
        if not done.returncode:
            save_output(name, *outputs[name])
        print(text, flush=True)
    write_report(outputs)
    return 0


def write_report(outputs: dict[str, tuple[str, str, float]]) -> None:
    m = machine()
    lines = ["# Benchmark results", "",
             f"Written by `python benchmarks/run_all.py` on {time.strftime('%Y-%m-%d %H:%M')}; machine: {m['cpu']}, "
             f"{m['cores']} cores, torch {m['torch']}, {m['torch_threads']} threads, GPU: {m['gpu'] or 'none'}.",
             "Each section below gives the command that produced it; rerun it to check a figure.", "",
             "## The course's speed and quality targets", "", "| target | goal | measured (CPU) | measured (GPU) |",
             "|---|---|---|---|"]
    gpu = {r[0]: r[2] for r in gpu_targets()}
    for target, goal, measured in targets():
        lines.append(f"| {target} | {goal} | {measured} | {gpu.get(target, 'no GPU run yet')} |")
    lines.append("")
    for name, (command, text, seconds) in outputs.items():
        lines += [f"## {name}", "", f"`{command}` ({seconds:.0f} s)", "", "```", text, "```", ""]
    for name, _argv, _slow in BENCHMARKS:           # not run this time: what its last run stored
        if name not in outputs:
            lines += stored_section(name)
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {HERE / 'RESULTS.md'}")


def gpu_targets() -> list[tuple[str, str, str]]:
    """The same rows from results recorded on a GPU (results/*-cuda.json), if any."""
    rows = []
    t2i = load("text_to_image_speed-cuda")
    if t2i and t2i.get("pipeline_s_per_image") is not None:
        rows.append((f"text-to-image, {t2i.get('size', 64)} px, 25 steps, guidance", "", f"{t2i['pipeline_s_per_image']:.3f} s"))
    tt = load("training_throughput-cuda")
    if tt:
        largest = max(tt["rows"], key=lambda r: r["params"])
        rows.append((f"training of the largest model ({largest['model']}) vs matmul ceiling", "",
                     f"{largest['share_of_ceiling']:.0%}"))
    return rows


if __name__ == "__main__":
    sys.exit(main())
