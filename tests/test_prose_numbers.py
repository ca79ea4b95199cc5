"""Every figure the notebooks' prose quotes agrees with the one source it comes from.

A number in a notebook's text is a copy; its source is either a printed output of the same notebook
(committed executed, in full mode) or a stored result: ``benchmarks/results/*.json``, a study's
``experiments/<name>/<name>.json`` or a model's
``data/<name>/record.json``. A copy that is edited alone, or a source that changes under an unchanged
copy, fails here. Nothing is executed: the test reads the committed notebooks and JSON files.

The same holds for README.md and docs/*.md (a claim's ``notebook`` is then that file's path). And every
time, factor or share the prose quotes ("83 s", "40 times", "55%") must be the number of a claim, or be
checked by one of the general tests below (a notebook's Time line, the course map's times), or sit in
``NOT_MEASURED`` with the reason it needs no source: a quoted figure with no source fails.

Each claim is ``Claim(notebook, quote, source, tol)``. ``quote`` is the text as the reader sees it
(whitespace and line breaks do not matter) with the quoted number in [[double brackets]]; ``source()``
returns the number it must equal, within ``tol`` (default: half a unit of the quote's last digit, i.e.
"the quote is the source, rounded"). Add a claim whenever prose quotes a stored or printed number.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import pytest

from course_utils import results
from course_utils.paths import DATA_DIR as DATA
from course_utils.paths import REPO as ROOT

NOTEBOOKS = ROOT / "notebooks"
EXPERIMENTS = ROOT / "experiments"


# ----------------------------------------------------------------------------- reading the sources
@lru_cache(maxsize=None)
def notebook(prefix: str) -> dict:
    (path,) = NOTEBOOKS.glob(f"{prefix}_*.ipynb")
    return json.loads(path.read_text())


def _flat(text: str) -> str:
    return " ".join(text.split())


DOCS = ["README.md"] + sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))


def prose(prefix: str, code: bool = False) -> list[str]:
    """The markdown cells of a notebook (or its code cells' source), whitespace collapsed; for a document
    (README.md, docs/*.md) its paragraphs."""
    if prefix.endswith(".md"):
        return [_flat(par) for par in re.split(r"\n\s*\n", (ROOT / prefix).read_text(encoding="utf-8")) if par.strip()]
    kind = "code" if code else "markdown"
    return [_flat("".join(c["source"])) for c in notebook(prefix)["cells"] if c["cell_type"] == kind]


def printed(prefix: str, pattern: str) -> float:
    """The number captured by ``pattern`` in the printed (stream) outputs of a notebook."""
    text = "\n".join("".join(o.get("text", "")) for c in notebook(prefix)["cells"] if c["cell_type"] == "code"
                     for o in c.get("outputs", []) if o.get("output_type") == "stream")
    found = re.findall(pattern, text)
    assert len(found) == 1, f"{prefix}: expected one printed match of {pattern!r}, found {found}"
    return float(found[0])


def _v4_lora(prior_empty: float) -> dict:
    """The study's row for the earlier LoRA settings (attention only, 300 steps at 2e-3, seed 0) on the current base."""
    return next(r for r in result("personalise_v4_wide")["rows"] if r["method"] == "lora" and r["steps"] == 300
                and r["lr"] == 2e-3 and r.get("targets") == "attention" and r.get("prior_empty", 0.0) == prior_empty
                and not r.get("seed"))


def _v4_shipped_lora(seed: int) -> dict:
    """The study's rows for the shipped LoRA recipe (transformer blocks, 1,800 steps at 1e-3) with training seed ``seed``."""
    return next(r for r in result("personalise_v4_wide")["rows"] if r["method"] == "lora" and r["steps"] == 1800
                and r["lr"] == 1e-3 and r.get("targets") == "transformer" and r.get("seed", 0) == seed)


@lru_cache(maxsize=None)
def result(name: str) -> dict:
    """A stored benchmark result (benchmarks/results/) or a study's (experiments/<name>/<name>.json)."""
    study = EXPERIMENTS / name / f"{name}.json"
    if not study.exists():              # a study's other runs: experiments/<study>/<study>-<arm>.json and the like
        study = next(iter(sorted(EXPERIMENTS.glob(f"*/{name}.json"))), study)
    return json.loads(study.read_text()) if study.exists() else results.load(name)


def code_number(prefix: str, pattern: str) -> float:
    """The number captured by ``pattern`` in a notebook's code (a setting the prose describes)."""
    found = re.findall(pattern, "\n".join(prose(prefix, code=True)))
    assert len(found) == 1, f"{prefix}: expected one match of {pattern!r} in the code, found {found}"
    return float(found[0])


def code_number_in(path: str, pattern: str) -> float:
    """The number captured by ``pattern`` in a file of the repository (a benchmark's default setting)."""
    found = re.findall(pattern, (ROOT / path).read_text())
    assert len(found) == 1, f"{path}: expected one match of {pattern!r}, found {found}"
    return float(found[0])


def gaussian_in_support() -> float:
    """The share of a Gaussian with the spiral's mean and covariance that lands on it (tests/test_toy2d.py's)."""
    import torch
    from course_utils.seeding import make_generator
    from course_utils.toy2d import in_support_share, make_spiral
    data = make_spiral(2000, make_generator(1))
    cloud = data.mean(0) + torch.randn(1000, 2, generator=make_generator(4)) @ torch.linalg.cholesky(torch.cov(data.T)).T
    return in_support_share(cloud)


@lru_cache(maxsize=None)
def record(model: str) -> dict:
    return json.loads((DATA / model / "record.json").read_text())


def row(rows: list[dict], **match) -> dict:
    (found,) = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    return found


def compare(model: str) -> dict:
    return row(result("compare_generators")["rows"], model=model)


def spread(model: str) -> dict:
    return row(result("sampling_spread")["rows"], model=model)


def variant(**recipe) -> dict:
    (found,) = [r for r in result("denoiser_variants")["rows"]
                if all(r["recipe"].get(k) == v for k, v in recipe.items())]
    return found


def sd_train_minutes() -> float:
    wall = record("storybook-sd")["wall_time_s"]
    return sum(wall.get(k, 0.0) for k in ("vae_train_s", "subject_finetune_s", "decoder_finetune_s", "text_unet_train_s")) / 60


# ----------------------------------------------------------------------------- the claims
@dataclass(frozen=True)
class Claim:
    notebook: str
    quote: str                      # prose with the number in [[…]]
    source: Callable[[], float]
    tol: float | None = None        # default: half a unit of the quoted number's last digit
    code: bool = False              # the quote sits in a code cell's source (a comment), not in markdown


def _stage_gain(key: str, before: str, after: str | None) -> float:
    """How much one stage of the storybook-sd autoencoder moved a round-trip figure (after None: the shipped vae)."""
    rec = record("storybook-sd")["metrics"]["vae_reconstruction"]
    return (rec[after] if after else rec)[key] - rec[before][key]


PIXEL_MIN = lambda: record("pixel-unet")["wall_time_s_this_session"] / 60  # noqa: E731
DDPM_MS = lambda: compare("diffusion DDPM-1000")["ms_per_image"]          # noqa: E731
DDPM_500_MIN = lambda: compare("diffusion DDPM-1000")["samples"] * DDPM_MS() / 60_000  # noqa: E731
SWEEP = r"w = {w:<4} adherence (\d\.\d\d)   diversity (?:\d+\.\d\d)"
DIVERSITY = r"w = {w:<4} adherence \d\.\d\d   diversity (\d+\.\d\d)"

CLAIMS = [
    # 00: how long the shipped models trained
    Claim("00", "the two largest in [[43]] and 144 minutes", PIXEL_MIN),
    Claim("00", "the two largest in 43 and [[144]] minutes", sd_train_minutes),
    # 03: the pass mark's meaning (a Gaussian fitted to the data, as tests/test_toy2d.py builds it)
    Claim("03", "puts only about [[44]]% of its points on the spiral", lambda: 100 * gaussian_in_support(), tol=1),
    # 04: the shipped denoiser's recipe
    Claim("04", "trained for about [[43]] minutes on a 2-core CPU", PIXEL_MIN),
    Claim("04", "the shipped model below trained for about [[43]] minutes", PIXEL_MIN),
    Claim("04", "minutes ([[4,000]] steps of 64 images)", lambda: record("pixel-unet")["steps"]),
    Claim("04", "(4,000 steps of [[64]] images)", lambda: record("pixel-unet")["batch_size"]),
    Claim("04", "During training, [[10]]% of captions are blanked", lambda: 100 * record("pixel-unet")["recipe"]["p_all"]),
    Claim("04", "blanked on its own [[5]]% of the time, so", lambda: 100 * record("pixel-unet")["recipe"]["p_each"]),
    Claim("04", "with [[10]]% of rows blanked", lambda: 100 * record("pixel-unet")["recipe"]["p_all"]),
    Claim("04", "blanked on its own [[5]]% of the time? Compute", lambda: 100 * record("pixel-unet")["recipe"]["p_each"]),
    Claim("04", "min(SNR_t, [[5]]) / SNR_t", lambda: record("pixel-unet")["recipe"]["snr_gamma"]),
    # 05: the judge, DDPM-1000's time, what moves the model's judge-FID
    Claim("05", "it reads all three right [[99.6]]% of the time",
          lambda: 100 * record("judge")["accuracy"]["held_out"]["all"]),
    Claim("05", "DDPM-1000 makes [[1000]] network calls per image", lambda: compare("diffusion DDPM-1000")["calls_per_image"]),
    Claim("05", "[[40]] times DDIM-25's 25", lambda: compare("diffusion DDPM-1000")["calls_per_image"] / 25),
    Claim("05", "stored benchmark it took [[3.2]] s per image", lambda: DDPM_MS() / 1000),
    Claim("05", "drawn [[100]] at a time (27 minutes", lambda: result("compare_generators")["batch_size"]),
    Claim("05", "at a time ([[27]] minutes for 500 images)", DDPM_500_MIN),
    Claim("05", "(27 minutes for [[500]] images)", lambda: compare("diffusion DDPM-1000")["samples"]),
    Claim("05", "for [[40]] times fewer network calls", lambda: printed("05", r"(\d+)× fewer with DDIM-25")),
    Claim("05", "| [[4.42]] ± 0.24 |", lambda: spread("pixel-unet")["mean"]),
    Claim("05", "| 4.42 ± [[0.24]] |", lambda: spread("pixel-unet")["stdev"]),
    Claim("05", "| [[7.06]] ± 0.64 |", lambda: spread("runs/variants/shipped-seed1")["mean"]),
    Claim("05", "| 7.06 ± [[0.64]] |", lambda: spread("runs/variants/shipped-seed1")["stdev"]),
    Claim("05", "| [[4.42]] ± 0.25 |", lambda: spread("runs/variants/steps-8000")["mean"]),
    Claim("05", "| 4.42 ± [[0.25]] |", lambda: spread("runs/variants/steps-8000")["stdev"]),
    Claim("05", "[[2.5]] times as many weights",
          lambda: variant(block_out_channels=[32, 64, 128])["parameters"] / record("pixel-unet")["parameters"]),
    Claim("05", "| twice the training steps ([[8,000]]) |", lambda: 2 * record("pixel-unet")["steps"]),
    Claim("05", "| 2.5 times as many weights | [[4.3]] |", lambda: variant(block_out_channels=[32, 64, 128])["judge_fid_null"]),
    Claim("05", "all against one set of [[500]] renders", lambda: result("sampler_quality")["n_real"]),
    Claim("05", "judge-FID falls to about [[55]]% of its no-label value", tol=3, source=lambda: 100 * (
        record("pixel-unet")["metrics"]["judge_fid_conditional_training_mix"] / record("pixel-unet")["metrics"]["judge_fid_unconditional"])),
    Claim("05", "only [[600]] training steps", lambda: result("loss_weighting")["rows"][0]["steps"]),
    Claim("05", "| [[28]] to 34 |", lambda: min(r["judge_fid"] for r in result("loss_weighting")["rows"])),
    Claim("05", "| 28 to [[34]] |", lambda: max(r["judge_fid"] for r in result("loss_weighting")["rows"])),
    # 06: the guidance sweep, as printed by the notebook
    Claim("06", "the prompt is ignored: adherence [[0.00]]", lambda: printed("06", SWEEP.format(w=0.0))),
    Claim("06", "wanders off the prompt now and then ([[0.78]])", lambda: printed("06", SWEEP.format(w=1.0))),
    Claim("06", "adherence peaks at [[0.92]]", lambda: printed("06", SWEEP.format(w=2.0))),
    Claim("06", "(diversity [[5.04]] → 4.03)", lambda: printed("06", DIVERSITY.format(w=1.0))),
    Claim("06", "(diversity 5.04 → [[4.03]])", lambda: printed("06", DIVERSITY.format(w=2.0))),
    Claim("06", "At w = 4 adherence falls to [[0.56]]", lambda: printed("06", SWEEP.format(w=4.0))),
    Claim("06", "at w = 7.5 to [[0.28]]", lambda: printed("06", SWEEP.format(w=7.5))),
    Claim("06", "dropped with probability [[5]]%", lambda: 100 * record("pixel-unet")["recipe"]["p_each"]),
    # 07: the latent scaling factor, the autoencoder's bargain, caption dropout
    Claim("07", "a 16×16×4 latent, [[8]] times smaller per side",
          lambda: record("storybook-sd")["recipe"]["image_size"] / record("storybook-sd")["recipe"]["sd"]["latent_size"]),
    Claim("07", "the judge reads [[99.6]]% of the reconstructions right",
          lambda: 100 * record("storybook-sd")["metrics"]["vae_reconstruction"]["before_subject_finetune"]["judge_adherence"]),
    Claim("04", "to [[10]]% of `lr` at the last", lambda: 100 * _cosine_lr_floor()),
    Claim("docs/glossary.md", "from lr down to [[10]]% of lr at the last", lambda: 100 * _cosine_lr_floor()),
    # the table's rounded figures (13.5 → 16.9) give 3.4; the record's unrounded ones 3.34
    Claim("07", "about [[3.4]] dB more inside the subject", lambda: _stage_gain("subject_psnr_db", "before_subject_finetune", "before_decoder_finetune"), tol=0.1),
    # 10: the shipped autoencoder's round trip, which bounds img2img's PSNR
    # 10: the editing benchmark's shares, quoted beside the pictures they generalise
    Claim("10", "keeps the other two in [[93]]% of the edits", lambda: 100 * result("editing_quality")["edits"]["all"]),
    Claim("10", "[[100]]% when the action changes", lambda: 100 * result("editing_quality")["edits"]["by_kind"]["action"]["all"]),
    Claim("10", "[[90]]% for the place", lambda: 100 * result("editing_quality")["edits"]["by_kind"]["place"]["all"]),
    Claim("10", "[[90]]% for the animal", lambda: 100 * result("editing_quality")["edits"]["by_kind"]["subject"]["all"]),
    Claim("10", "the new animal in [[93]]% of the inpaintings", lambda: 100 * result("editing_quality")["inpainting"]["subject"]),
    # 11: the live textual-inversion run's printed distances
    Claim("11", "a long way: [[0.594]] from where it started", lambda: printed("11", r"it moved (\d\.\d+) from")),
    Claim("11", "lies\nfrom \"squirrel\" ([[0.621]])", lambda: printed("11", r"long and (\d\.\d+) from 'fox'")),
    Claim("11", "the length of the squirrel's whole vector ([[0.505]])", lambda: printed("11", r"whose vector is (\d\.\d+) long")),
    Claim("11", "by about the learning rate ([[0.005]])", lambda: code_number("11", r'"textual_inversion", steps=pick\(30, 3\), lr=([\d.e-]+)\)')),
    # 11: guidance's unconditional half, and the study's LoRA with and without uncaptioned class images (personalise_v4_wide)
    Claim("11", "w = 7.5, that is\n[[6.5]] times as large",
          lambda: record("storybook-sd")["default_guidance"]["value"] - 1),
    Claim("11", "went from [[23]]% of the unseen\nscenes", lambda: 100 * _v4_lora(0.0)["success"]),
    Claim("11", "scenes to [[45]]% with that one change", lambda: 100 * _v4_lora(0.25)["success"]),
    # 11: the side-by-side table's reading (benchmarks/personalise.py, at 7.5 and at 4) and the study's seed spread
    Claim("11", "LoRA finds the hedgehog in [[80]]% of the unseen scenes", lambda: 100 * results.load("personalise")["rows"]["LoRA"]["success"]),
    Claim("11", "from a file 1/[[26]] of\nthe UNet's", lambda: results.load("personalise")["unet_bytes"] / results.load("personalise")["rows"]["LoRA"]["bytes"]),
    Claim("11", "action and place in only [[71]]% of its\nsamples", lambda: 100 * results.load("personalise")["rows"]["LoRA"]["kept"]),
    Claim("11", "against [[91]]% for DreamBooth with prior", lambda: 100 * results.load("personalise")["rows"]["DreamBooth, prior kept"]["kept"]),
    Claim("11", "finds the hedgehog in [[71]]% of the scenes", lambda: 100 * results.load("personalise")["rows"]["DreamBooth, prior kept"]["success"]),
    Claim("11", "sampled at w = [[4]] instead of 7.5", lambda: result("personalise-w4")["rows"]["LoRA"]["guidance_scale"]),
    Claim("11", "hedgehog just as often ([[80]]%)", lambda: 100 * result("personalise-w4")["rows"]["LoRA"]["success"]),
    Claim("11", "keeps the scene more often ([[80]]% against 71%)", lambda: 100 * result("personalise-w4")["rows"]["LoRA"]["kept"]),
    Claim("11", "keeps the scene more often (80% against [[71]]%)", lambda: 100 * results.load("personalise")["rows"]["LoRA"]["kept"]),
    Claim("11", "found the hedgehog [[11]] points less often", lambda: 100 * abs(_v4_shipped_lora(0)["success"] - _v4_shipped_lora(1)["success"])),
    Claim("11", "two shares of\n[[108]] samples each", lambda: results.load("personalise")["rows"]["LoRA"]["n_seen"]),
    Claim("10", "almost exactly: [[31.0]] dB to what", lambda: printed("10", r"redrawn from it: PSNR (\d+\.\d) dB")),
    Claim("10", "comes to the picture (about [[22]] dB)", lambda: record("storybook-sd")["metrics"]["vae_reconstruction"]["psnr_db"], tol=0.5),
    Claim("10", "above ([[14.7]] dB at strength 0.2)", lambda: printed("10", r"strength 0.2: PSNR to the input +(\d+\.\d) dB")),
    Claim("10", "fresh noise (std [[0.93]] against 1)", lambda: printed("10", r"std (\d\.\d+) \(fresh")),
    Claim("10", "the judge reads [[2]] of the 16 owls as in a forest", lambda: printed("10", r"in a forest: (\d+) of 16")),
    Claim("10", "2 of the [[16]] owls", lambda: code_number("10", r"n = (\d+) plain = pipe\(\[\"owl reading")),
    Claim("10", "read right in [[80]]% of the edits, against 68%", lambda: 100 * result("edit_guidance")["best"]["all"]),
    Claim("10", "against [[68]]% at w = 4", lambda: 100 * next(r["all"] for r in result("edit_guidance")["rows"]
                                                         if r["strength"] == 1.0 and r["guidance"] == 4.0)),
    Claim("10", "where it\nread right in 80% of the edits, against 68% at w = [[4]]", lambda: max(
        r["guidance"] for r in result("edit_guidance")["rows"])),
    Claim("10", "our VAE's own round trip keeps about [[22]] dB",
          lambda: record("storybook-sd")["metrics"]["vae_reconstruction"]["psnr_db"], tol=0.5),
    Claim("10", "its round trip alone keeps only about [[22]] dB",
          lambda: record("storybook-sd")["metrics"]["vae_reconstruction"]["psnr_db"], tol=0.5),
    Claim("07", "up from [[98.3]]%",
          lambda: 100 * record("storybook-sd")["metrics"]["vae_reconstruction"]["before_discriminator"]["judge_adherence"]),
    Claim("07", "besides the [[10]]% of empty captions", lambda: 100 * record("storybook-sd")["recipe"]["p_uncond"]),
    Claim("07", "left out of a caption [[10]]% of the time", lambda: 100 * record("storybook-sd")["recipe"]["p_drop_word"]),
    # 07: the latent scaling factor
    Claim("07", "latents of its [[10,800]] training renders", lambda: record("storybook-sd")["recipe"]["pool_size"]),
    Claim("07", "the scaled latents s·z have a std close to [[1]]", lambda: printed("07", r"std of s·z (\d+\.\d\d)"), tol=0.05),
    # 07: the guidance scale chosen on the validation set
    Claim("07", "[[118]] of 120 samples read right at w = 7.5", lambda: 120 * record("storybook-sd")["default_guidance"]["held_out_adherence"]["7.5"]),
    Claim("07", "118 of [[120]] samples read right", lambda: record("storybook-sd")["default_guidance"]["per_group"]),
    Claim("07", "the winner is [[7.5]], diffusers'", lambda: record("storybook-sd")["default_guidance"]["value"]),
    Claim("07", "against [[114]] at w = 5", lambda: 120 * record("storybook-sd")["default_guidance"]["held_out_adherence"]["5"]),
    Claim("07", "and [[112]] at w = 4", lambda: 120 * record("storybook-sd")["default_guidance"]["held_out_adherence"]["4"]),
    Claim("07", "Euler and DDIM land\nabout [[3]] times as far away as plain DPM++ 2M", lambda: min(
        printed("07", r"Euler +at 25 steps: (\d\.\d+)"), printed("07", r"DDIM +at 25 steps: (\d\.\d+)"))
        / printed("07", r"DPM\+\+ 2M +at 25 steps: (\d\.\d+)"), tol=0.5),
    Claim("07", "and [[2.6]] dB more over the whole", lambda: _stage_gain("psnr_db", "before_subject_finetune", "before_decoder_finetune")),
    Claim("07", "The subject keeps its PSNR ([[0.28]] dB more)", lambda: _stage_gain("subject_psnr_db", "before_decoder_finetune", None)),
    Claim("07", "the whole picture loses about [[0.5]] dB", lambda: -_stage_gain("psnr_db", "before_decoder_finetune", None)),
    Claim("07", "the detail ratio returns to about\n[[1.0]]", lambda: record("storybook-sd")["metrics"]["vae_reconstruction"]["detail_ratio"], tol=0.1),
    Claim("07", "detail ratio rises only to\n[[0.71]]", lambda: record("storybook-sd")["metrics"]["vae_reconstruction"]["subject_detail_ratio"]),
    # 07: the longer run of stage 2b (experiments/subject_autoencoder, arm A: rows at 0, 5, 10, 20, 30, 45 min)
    Claim("07", "trained for [[18]] minutes and reached 16.9 dB",
          lambda: record("storybook-sd")["wall_time_s"]["subject_finetune_s"] / 60),
    Claim("07", "and reached [[16.9]] dB inside the subject",
          lambda: record("storybook-sd")["metrics"]["vae_reconstruction"]["before_decoder_finetune"]["subject_psnr_db"]),
    Claim("07", "went from\n[[13.5]] dB", lambda: result("subject_autoencoder-A")["rows"][0]["subject_psnr_db"]),
    Claim("07", "to [[15.0]] dB in its first 10 minutes", lambda: result("subject_autoencoder-A")["rows"][2]["subject_psnr_db"]),
    Claim("07", "in its first [[10]] minutes", lambda: result("subject_autoencoder-A")["rows"][2]["train_minutes"]),
    Claim("07", "and to [[17.6]] dB after 45", lambda: result("subject_autoencoder-A")["rows"][-1]["subject_psnr_db"]),
    Claim("07", "17.6 dB after [[45]], each minute", lambda: result("subject_autoencoder-A")["rows"][-1]["train_minutes"]),
    Claim("07", "at every other scale or interval it tried,\nthe samples spread about as much as the renders do ([[0.98]] to 1.03)",
          lambda: min(r["seed_variation_pixels"] for r in result("guidance_variety_unet4800")["rows"])),
    Claim("07", "the renders do (0.98 to [[1.03]])", lambda: max(r["seed_variation_pixels"] for r in result("guidance_variety_unet4800")["rows"])),
    # 08: the saved comparison table, and the shipped baselines' records
    Claim("08", "[[500]] of its images took 27 minutes", lambda: compare("diffusion DDPM-1000")["samples"]),
    Claim("08", "500 of its images took [[27]] minutes", DDPM_500_MIN),
    Claim("08", "on a 2-core Intel Xeon ([[3.2]] s each", lambda: DDPM_MS() / 1000),
    Claim("08", "drawn [[100]] at a time), against", lambda: result("compare_generators")["batch_size"]),
    Claim("08", "against [[82]] ms for DDIM-25 there", lambda: compare("diffusion DDIM-25")["ms_per_image"]),
    Claim("08", "DDIM-25 scored [[4.54]] there", lambda: result("sampler_quality")["samplers"]["DDIM-25"]["judge_fid"]),
    Claim("08", "took [[111]] ms an image", lambda: 1000 * result("sampler_quality")["samplers"]["DDIM-25"]["seconds_per_image"]),
    Claim("08", "and [[250]] images a batch", lambda: code_number_in("benchmarks/sampler_quality.py", r'"--batch-size", type=int, default=(\d+)')),
    Claim("08", "the second one's generator learns [[20]] times faster", lambda: code_number("08", r"for ratio in \(1, (\d+)\)")),
    Claim("08", "(the shipped VAE had [[1200]] steps)", lambda: record("vae")["steps"]),
    Claim("08", "its whole run ([[1600]] steps)", lambda: record("gan")["steps"]),
    Claim("08", "(64 renders give about [[40]])", lambda: printed("08", r"renders: +spread +(\d+\.\d)"), tol=5),
    Claim("08", "[[4.9]] with DDIM-25", lambda: compare("diffusion DDIM-25")["fid"]),
    Claim("08", "The VAE follows at [[15.4]]", lambda: compare("VAE")["fid"]),
    Claim("08", "the GAN at [[38.0]]", lambda: compare("GAN")["fid"]),
    Claim("08", "the renders score [[0.85]] against each other", lambda: compare("real renders")["fid"]),
    Claim("08", "DDIM-25 ([[0.95]])", lambda: compare("diffusion DDIM-25")["coverage"]),
    Claim("08", "the VAE ([[0.89]])", lambda: compare("VAE")["coverage"]),
    Claim("08", "renders do ([[0.90]])", lambda: compare("real renders")["coverage"]),
    Claim("08", "The GAN finds [[0.29]]", lambda: compare("GAN")["coverage"]),
    Claim("08", "a DDIM-25 image [[82]] ms, some 400 times more", lambda: compare("diffusion DDIM-25")["ms_per_image"]),
    Claim("08", "some [[400]] times more", lambda: compare("diffusion DDIM-25")["ms_per_image"] / compare("GAN")["ms_per_image"],
          tol=50),
    Claim("08", "The denoiser trained for [[43]] minutes", lambda: compare("diffusion DDIM-25")["train_minutes"]),
    Claim("08", "the VAE for [[3]] and", lambda: compare("VAE")["train_minutes"]),
    Claim("08", "and the GAN for [[7]].", lambda: compare("GAN")["train_minutes"]),
]

# README.md and docs/: the course's timing run
COURSE_S = lambda: result("course_time_full")["total"]                   # noqa: E731
CLAIMS += [
    Claim("README.md", "All [[12]] notebooks ran in 391 s", lambda: len(list(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")))),
    Claim("README.md", "All 12 notebooks ran in [[391]] s", COURSE_S),
    Claim("README.md", "nothing else running: [[391]] s for the whole course", COURSE_S),
    Claim("docs/teaching.md", "nothing else running: [[391]] s in all", COURSE_S),
]

NUMBER = re.compile(r"\[\[([^\]]+)\]\]")


def _split(quote: str) -> tuple[str, float, float]:
    """(quote as printed, quoted number, default tolerance: half a unit of its last digit)."""
    (raw,) = NUMBER.findall(quote)
    digits = raw.replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return _flat(NUMBER.sub(raw, quote)), float(digits), 0.5 * 10 ** -decimals + 1e-9


def _id(claim: Claim) -> str:
    return f"{claim.notebook}:{NUMBER.sub(lambda m: '[' + m.group(1) + ']', claim.quote)[:50]}"


@pytest.mark.parametrize("claim", CLAIMS, ids=_id)
def test_quoted_figure_matches_its_source(claim: Claim) -> None:
    text, quoted, half_unit = _split(claim.quote)
    cells = prose(claim.notebook, code=claim.code)
    assert any(text in cell for cell in cells), (
        f"notebook {claim.notebook} no longer says {text!r}. If its number changed, update the claim in "
        f"{Path(__file__).name} only once the new number agrees with its source.")
    value = float(claim.source())
    tol = half_unit if claim.tol is None else claim.tol
    assert abs(value - quoted) <= tol, (
        f"notebook {claim.notebook} quotes {quoted:g} in {text!r}, but its source says {value:g}: "
        "change the prose to the source's number (or re-run what makes the source).")


# ----------------------------------------------------------------------------- general checks
SPREAD = re.compile(r"(\d+\.\d+) ± (\d+\.\d+)")


@pytest.mark.parametrize("prefix", sorted(p.name[:2] for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")))
def test_every_quoted_spread_is_a_stored_one(prefix: str) -> None:
    """Any "mean ± spread" in the prose is a row of sampling_spread.json, rounded as quoted."""
    stored = [(r["mean"], r["stdev"]) for r in result("sampling_spread")["rows"]]
    for cell in prose(prefix):
        for mean, sd in SPREAD.findall(cell):
            tol_m, tol_s = (0.5 * 10 ** -len(x.split(".")[1]) + 1e-9 for x in (mean, sd))
            assert any(abs(m - float(mean)) <= tol_m and abs(s - float(sd)) <= tol_s for m, s in stored), (
                f"notebook {prefix} quotes {mean} ± {sd}, which no row of sampling_spread.json gives.")


@pytest.mark.parametrize("prefix", sorted(p.name[:2] for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")))
def test_measured_time_of_each_notebook(prefix: str) -> None:
    """A "Time: … (N s on <machine>, the course's timing run)" line quotes course_time_full.json and names
    its machine; no line says "N s measured", which a reader would set against their own clock."""
    stored = result("course_time_full")
    seconds = {k[:2]: v for k, v in stored["seconds"].items()}
    for cell in prose(prefix):
        assert not re.search(r"\d s measured", cell), f"notebook {prefix}: say whose machine measured it, not 'measured'."
        for quoted, machine in re.findall(r"\((\d+) s on (a [^,)]+), the course's timing run", cell):
            assert abs(float(quoted) - seconds[prefix]) <= 0.5, (
                f"notebook {prefix} says {quoted} s; course_time_full.json says {seconds[prefix]} s.")
            assert machine == results.machine(stored), f"notebook {prefix} names {machine!r}, the run was on {results.machine(stored)!r}."


# A stored figure is quoted with the machine that made it: (notebook, text with {machine}, stored result);
# {machine} is results.machine's words ("a 2-core Intel Xeon"), {bare} the same without the article.
MACHINES = [
    ("05", "On the {bare} of the stored benchmark it took", "compare_generators"),
    ("05", "ms / image on {machine}", "sampler_quality"),     # printed by results.format_sampler_rows
    ("08", "500 of its images took 27 minutes on {machine}", "compare_generators"),
    ("08", "On the {bare} of the stored run", "compare_generators"),
    ("README.md", "ran in 391 s on {machine}", "course_time_full"),
    ("docs/teaching.md", "{bare_cpu} CPU, no GPU, nothing else running: 391 s", "course_time_full"),
]


@pytest.mark.parametrize("prefix, quote, name", MACHINES, ids=lambda v: str(v)[:30])
def test_stored_figures_name_their_machine(prefix: str, quote: str, name: str) -> None:
    machine = results.machine(result(name))
    text = _flat(quote.format(machine=machine, bare=machine.split(" ", 1)[1], bare_cpu=machine.split(" ", 1)[1]))
    sources = prose(prefix) + ([] if prefix.endswith(".md") else [
        _flat("".join(o.get("text", ""))) for c in notebook(prefix)["cells"]
        for o in c.get("outputs", []) if o.get("output_type") == "stream"])
    assert any(text in s for s in sources), f"notebook {prefix} should say {text!r}: the figure's machine, as stored."


STORED = sorted({f.name for f in (ROOT / "benchmarks" / "results").glob("*.json")}
                | {f.name for f in EXPERIMENTS.glob("*/*.json")})
BOOKKEEPING = re.compile(r"benchmarks/results/|\b\d{4}-\d\d-\d\d\b|\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|"
                         r"Oct|Nov|Dec)[a-z]* \d{4}\b|(?<![\w/.-])(?:" + "|".join(map(re.escape, STORED)) + r")\b")
URL = re.compile(r"https?://\S+")


def reader_view(prefix: str) -> list[tuple[str, str]]:
    """(where, text) for every cell's source and every committed text output of a notebook."""
    views = []
    for i, c in enumerate(notebook(prefix)["cells"]):
        views.append((f"cell {i} ({c['cell_type']})", "".join(c["source"])))
        for o in c.get("outputs", []):
            data = o.get("data", {})
            views.append((f"cell {i} output", "".join(o.get("text", "")) + "".join(data.get("text/plain", ""))
                          + "".join(data.get("text/html", "")) + "".join(data.get("text/markdown", ""))))
    return views


@pytest.mark.parametrize("prefix", sorted(p.name[:2] for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")))
def test_no_cell_shows_a_result_file_or_a_date(prefix: str) -> None:
    """The audit trail (which file, which run, which machine, when) lives in benchmarks/RESULTS.md, linked
    once; a lesson shows neither a stored result's file name nor a date, in its text, its code or its
    committed outputs. (A date inside a URL is part of an address, not bookkeeping.)"""
    found = [f"{where}: {m.group(0)!r}" for where, text in reader_view(prefix)
             for m in BOOKKEEPING.finditer(URL.sub("", text))]
    assert not found, (f"notebook {prefix} shows bookkeeping: {'; '.join(found)}. Quote the figure (with its "
                       "machine) and leave the file and the date to benchmarks/RESULTS.md; a committed output "
                       "changes when its notebook is re-executed.")


def test_claims_cover_every_notebook_that_quotes_results() -> None:
    """The claims above are not stale: each one's notebook (or document) exists."""
    assert {c.notebook for c in CLAIMS} <= {p.name[:2] for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")} | set(DOCS)


# ----------------------------------------------------------------------------- no figure without a source
PREFIXES = sorted(p.name[:2] for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))

# A time, a factor or a share as prose quotes it: "83 s", "27 minutes", "40 times", "400×", "55%".
# "3 × 32 × 32" is a shape, not a factor, so × before a number does not count.
QUANTITY = re.compile(r"(?<![\w.,])(\d[\d,]*(?:\.\d+)?) ?(?:%|×(?! ?\d)|x\b|s\b|ms\b|min\b|minutes?\b|seconds?\b"
                      r"|hours?\b|times\b)")
# Checked by the general tests above, not by a claim: a notebook's Time line (an estimate, then the timing
# run's seconds, which test_measured_time_of_each_notebook checks) and the course map's time columns.
CHECKED_ELSEWHERE = [
    (PREFIXES, re.compile(r"\*{0,2}Time(?: on CPU)?:\*{0,2} [^.(]*(?:\(\d+ s on a [^,)]+, the course's timing run)?")),
    (["README.md", "docs/teaching.md"], re.compile(r"\| \d+ s \|")),     # the time column of their timing tables
]
# Numbers in prose that no run measured, each with the reason it needs no source. Keep this list short.
def _cosine_lr_floor() -> float:
    """Where training's cosine learning-rate schedule ends, as a share of lr (training.TrainConfig.lr_at)."""
    from course_utils.training import TrainConfig
    return TrainConfig(steps=100, lr=1.0, lr_schedule="cosine").lr_at(100)


NOT_MEASURED = [
    ("01", "about 68% of values within ±1 and 95% within ±2", "a property of the normal distribution"),
    ("08", "minus 4 times its own value", "the definition of the Laplacian"),
    ("docs/teaching.md", "## The plan (3 hours)", "the length of a planned session, not a measurement"),
]


def quantities(prefix: str) -> list[tuple[str, str, int, int]]:
    """(text, number, start, end) of every quoted time, factor or share in a notebook's markdown or a document."""
    found = []
    for text in prose(prefix):
        for m in QUANTITY.finditer(text):
            found.append((text, m.group(1), m.start(), m.end()))
    return found


def _covered(prefix: str, text: str, number: str, start: int, end: int) -> bool:
    for claim in (c for c in CLAIMS if c.notebook == prefix and not c.code):
        quote, _, _ = _split(claim.quote)
        raw = NUMBER.findall(claim.quote)[0]
        offset = len(_flat(claim.quote.split("[[")[0] + "x")) - 1        # where the number sits in the quote
        for m in re.finditer(re.escape(quote), text):
            if raw == number and m.start() + offset == start:
                return True
    for where, pattern in CHECKED_ELSEWHERE:
        if prefix in where and any(m.start() <= start and end <= m.end() for m in pattern.finditer(text)):
            return True
    for where, snippet, _ in NOT_MEASURED:
        if where == prefix:
            at = text.find(_flat(snippet))
            if at >= 0 and at <= start and end <= at + len(_flat(snippet)):
                return True
    return False


@pytest.mark.parametrize("prefix", PREFIXES + DOCS)
def test_every_quoted_time_factor_and_share_has_a_source(prefix: str) -> None:
    """A time, factor or share in the prose is a claim's number (checked against its source), is checked
    by a general test above, or is listed in NOT_MEASURED with its reason; anything else fails."""
    bare = [f"{number!r} in …{text[max(0, start - 40):end + 20]}…" for text, number, start, end in quantities(prefix)
            if not _covered(prefix, text, number, start, end)]
    assert not bare, (f"{prefix} quotes figures that no claim checks:\n  " + "\n  ".join(bare) +
                      f"\nAdd a Claim in {Path(__file__).name} whose source() gives each number (a stored result, a "
                      "record, a printed output), or say in NOT_MEASURED why it needs none.")


def test_not_measured_entries_are_used() -> None:
    """An entry of NOT_MEASURED that no longer matches the prose is stale."""
    for where, snippet, reason in NOT_MEASURED:
        assert reason and any(_flat(snippet) in text for text in prose(where)), f"{where} no longer says {snippet!r}"


def _timing_rows(path: str, pattern: str) -> dict[str, float]:
    return {m.group(1)[:2]: float(m.group(2)) for m in re.finditer(pattern, (ROOT / path).read_text(encoding="utf-8"), re.M)}


@pytest.mark.parametrize("path, pattern", [
    ("README.md", r"^\| \[(\d\d_\w+)\]\(notebooks/.*\| (\d+) s \|$"),
    ("docs/teaching.md", r"^\| (\d\d_\w+) \| (\d+) s \|"),
])
def test_course_map_times_are_the_timing_run(path: str, pattern: str) -> None:
    """The per-notebook times of the README's course map and of teaching.md are course_time_full's, and that
    run timed every notebook there is."""
    seconds = {k[:2]: v for k, v in result("course_time_full")["seconds"].items()}
    rows = _timing_rows(path, pattern)
    assert sorted(rows) == PREFIXES == sorted(seconds), (
        f"{path} lists times for {sorted(rows)}, course_time_full.json for {sorted(seconds)}, the notebooks are "
        f"{PREFIXES}: rerun `python benchmarks/course_time.py --mode full` and copy its times.")
    wrong = {k: (v, seconds[k]) for k, v in rows.items() if abs(v - seconds[k]) > 0.5}
    assert not wrong, f"{path}: quoted vs timed seconds {wrong}"
