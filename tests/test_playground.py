"""course_utils.playground: the panel draws at once, redraws what its controls say with the same call a reader
would type, shows a bad prompt's message instead of a traceback (keeping the last picture), swaps samplers
without touching the pipeline's own, runs img2img from an input image; the static grid has one image per
prompt × seed. Small step counts keep it quick (about 10 s on 2 cores)."""
from __future__ import annotations

import matplotlib
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler

from course_utils import editing, playground as pg
from course_utils.pipelines import load_text_to_image
from course_utils.seeding import make_generator

matplotlib.use("Agg")
STEPS = 5                                   # the steps slider's minimum


@pytest.fixture(scope="module")
def pipe():
    return load_text_to_image(device="cpu")


@pytest.fixture(scope="module")
def picture(pipe):
    """An input image [1, 3, 128, 128] in [-1, 1]: the model's own river scene."""
    out = pipe("squirrel fishing by a river", generator=make_generator(1), num_inference_steps=STEPS, output_type="pt")
    return out.images * 2 - 1


@pytest.fixture
def panel(pipe, picture):
    p = pg.playground(pipe, images={"river": picture, "river 3d": picture[0]})
    p.controls["steps"].value = STEPS
    return p


def png(panel) -> str:
    (output,) = panel.controls["output"].outputs
    return output["data"]["image/png"]


def test_panel_draws_once_when_built(pipe, panel):
    c = panel.controls
    assert "course-playground" in panel._dom_classes
    assert (c["prompt"].value, c["negative"].value, c["seed"].value) == ("squirrel fishing by a river", "", 934743)
    assert c["guidance"].value == pipe.default_guidance and c["sampler"].value == "DPM-Solver++"
    assert c["image"].options == ("none", "river", "river 3d") and c["strength"].value == 0.6
    assert len(png(panel)) > 1000 and c["status"].value.startswith("drew in ")
    assert panel.last_image.shape == (1, 3, 128, 128)
    assert panel.last_image.min() < -0.5 and panel.last_image.max() <= 1      # the course's range [-1, 1]


def test_draw_equals_the_pipeline_call(pipe, panel):
    c = panel.controls
    c["prompt"].value, c["negative"].value, c["seed"].value, c["guidance"].value = "fox in the snow", "forest", 7, 4.0
    panel.draw()
    want = pipe("fox in the snow", negative_prompt="forest", generator=make_generator(7), num_inference_steps=STEPS,
                guidance_scale=4.0, output_type="pt").images * 2 - 1
    torch.testing.assert_close(panel.last_image, want)
    title = c["output"].outputs[0]["data"]["text/plain"]
    assert all(part in title for part in ("fox in the snow", "seed 7", f"{STEPS} steps", "w 4", " s"))


def test_prompt_seed_and_button_change_the_picture(panel):
    c = panel.controls
    panel.draw()
    first, first_png = panel.last_image, png(panel)
    c["prompt"].value = "bear sleeping in the forest"
    panel.draw()
    assert not torch.equal(panel.last_image, first) and png(panel) != first_png
    second = panel.last_image
    c["seed"].value += 1
    c["draw"].click()                                  # the button runs the same draw
    assert not torch.equal(panel.last_image, second) and c["status"].value.startswith("drew in ")


def test_unknown_word_shows_the_vocabulary_and_keeps_the_picture(panel):
    c = panel.controls
    before, before_png = panel.last_image, png(panel)
    c["prompt"].value = "squirrel fishing by a volcano"
    panel.draw()                                       # raises nothing
    status = c["status"].value
    assert "volcano" in status and "river" in status and "The model knows" in status and "color" in status
    assert "Traceback" not in status and "&#x27;volcano&#x27;" in status          # escaped
    assert panel.last_image is before and png(panel) == before_png
    assert not c["draw"].disabled


def test_bad_strength_is_a_message(panel):
    c = panel.controls
    before = panel.last_image
    c["image"].value, c["strength"].value = "river", 0.05       # 5 steps × 0.05 redoes no step at all
    panel.draw()
    assert "strength" in c["status"].value and "color" in c["status"].value and panel.last_image is before


def test_only_value_and_type_errors_are_caught(panel, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")
    monkeypatch.setattr(pg, "generate", broken)
    with pytest.raises(RuntimeError):
        panel.draw()
    assert not panel.controls["draw"].disabled


#: what each menu entry must be; the copy's __init__ turns DDPM's clip_sample off, as the panel must
SCHEDULERS = {"DPM-Solver++": (DPMSolverMultistepScheduler, {}),
              "DDIM": (DDIMScheduler, dict(clip_sample=False, timestep_spacing="trailing")),
              "Euler": (EulerDiscreteScheduler, {}), "DDPM": (DDPMScheduler, {})}


@pytest.mark.filterwarnings("ignore:The configuration file of this scheduler:FutureWarning")   # the copy's DDPM
def test_sampler_menu_switches_the_scheduler_and_restores_the_pipes(pipe, panel):
    own, config = pipe.scheduler, dict(pipe.scheduler.config)
    c, drawn = panel.controls, {}
    assert set(c["sampler"].options) == set(SCHEDULERS)
    for name, (cls, settings) in SCHEDULERS.items():
        c["sampler"].value = name
        panel.draw()
        drawn[name] = panel.last_image
        copy = type(pipe)(**{**pipe.components, "scheduler": cls.from_config(config, **settings)})
        copy.vocabulary, copy.default_guidance = pipe.vocabulary, pipe.default_guidance
        want = copy("squirrel fishing by a river", generator=make_generator(934743), num_inference_steps=STEPS,
                    guidance_scale=c["guidance"].value, output_type="pt").images * 2 - 1
        torch.testing.assert_close(drawn[name], want, msg=f"{name}: not the {cls.__name__} picture")
        assert pipe.scheduler is own and dict(pipe.scheduler.config) == config
    names = list(drawn)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert (drawn[a] - drawn[b]).abs().max() > 1e-3, f"{a} and {b} drew the same pixels"


def test_scheduler_is_restored_after_an_error(pipe, panel):
    own = pipe.scheduler
    panel.controls["sampler"].value = "DDIM"
    panel.controls["prompt"].value = "owl on a volcano"
    panel.draw()
    assert "volcano" in panel.controls["status"].value and pipe.scheduler is own


@pytest.mark.parametrize("name, sampler, negative", [("river", "DPM-Solver++", ""), ("river 3d", "DDIM", "forest")])
def test_input_image_runs_img2img(pipe, picture, panel, name, sampler, negative):
    c = panel.controls
    assert c["strength"].disabled
    c["image"].value, c["strength"].value, c["sampler"].value = name, 0.6, sampler
    assert not c["strength"].disabled
    c["prompt"].value, c["negative"].value = "fox fishing by a river", negative
    panel.draw()
    assert c["status"].value.startswith("drew in ") and "strength 0.6" in c["output"].outputs[0]["data"]["text/plain"]
    with pg.using_scheduler(pipe, pg.make_scheduler(pipe, sampler)) as p:
        want = editing.img2img(p, picture, "fox fishing by a river", strength=0.6, generator=make_generator(934743),
                               num_inference_steps=STEPS, guidance_scale=pipe.default_guidance, negative_prompt=negative)
    torch.testing.assert_close(panel.last_image, want)
    c["image"].value = "none"
    panel.draw()
    assert not torch.allclose(panel.last_image, want, atol=1e-3)      # back to drawing from noise


def test_images_named_none_are_refused(pipe, picture):
    with pytest.raises(ValueError, match="none"):
        pg.playground(pipe, images={"none": picture})


def test_static_playground_draws_one_image_per_prompt_and_seed(pipe):
    prompts, seeds = ["squirrel fishing by a river", "fox reading in the snow"], [1, 2, 3]
    fig = pg.static_playground(pipe, prompts, seeds, guidance_scale=3.0, num_inference_steps=STEPS)
    try:
        shown = [ax for ax in fig.axes if ax.images]
        assert isinstance(fig, matplotlib.figure.Figure) and len(shown) == len(prompts) * len(seeds)
        assert [ax.get_title() for ax in shown][:2] == ["squirrel fishing by a river\nseed 1",
                                                        "squirrel fishing by a river\nseed 2"]
        first = shown[0].images[0].get_array()
        assert (first != shown[1].images[0].get_array()).any()        # seeds differ
    finally:
        matplotlib.pyplot.close(fig)
