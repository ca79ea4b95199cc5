"""The site's front-page picture: seed 934743's noise becoming "squirrel fishing by a river", in four stages.

    python tools/story_picture.py build/site/story.png       # the picture alone
    python tools/build_site.py                                # every site build draws it (make site, make course)

The course draws it, nothing is drawn by hand and nothing is committed: the shipped text-to-image model
(data/storybook-sd, loaded and checked by ``pipelines.load_text_to_image``) runs the course's own loop
(``text_to_image.text_to_image_by_hand``, notebook 07) from the seed notebook 00 starts with. Rebuilding
the site redraws it, so it always shows the model as shipped.

The four stages, left to right: the seed's noise itself (three of the latent's four channels, shown as
colours, 16 × 16 cells), what the sampler holds after 10 and after 17 of its 25 steps (decoded to pixels
by the VAE), and the finished picture.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from course_utils import plotting  # noqa: E402
from course_utils.seeding import make_generator  # noqa: E402

__all__ = ["SEED", "PROMPT", "STEPS", "AFTER_STEPS", "FILE_NAME", "ALT_TEXT", "CAPTION", "story_frames",
           "write_story_picture", "draw_for_site", "main"]

SEED, PROMPT, STEPS = 934743, "squirrel fishing by a river", 25     # notebook 07's picture, 25 steps
AFTER_STEPS = (10, 17)                      # the two middle panels: x_t after this many of the STEPS steps
FILE_NAME = "story.png"
ALT_TEXT = (f"Four pictures in a row: the random noise of seed {SEED}; the same noise after {AFTER_STEPS[0]} "
            f"and after {AFTER_STEPS[1]} of {STEPS} denoising steps, with a brown animal and a river showing "
            f"through; and the finished picture the course's model draws for '{PROMPT}'.")
CAPTION = (f"How this course's model draws \u201c{PROMPT}\u201d from seed {SEED}: the seed's noise (three of the "
           f"latent's four channels, as colours), what the sampler holds after {AFTER_STEPS[0]} and after "
           f"{AFTER_STEPS[1]} of its {STEPS} steps, decoded to pixels, and the finished picture. The model is small "
           f"and was trained on a CPU: it draws the river, the rod and the float, and a brown lump for the "
           f"squirrel (notebook 07 says what it can and cannot draw). tools/story_picture.py draws this "
           f"picture each time the site is built.")


def story_frames(pipe=None) -> tuple[torch.Tensor, list[str]]:
    """The four panels [4, 3, H, W] in [-1, 1] and their titles; ``pipe`` defaults to the shipped model."""
    from course_utils.pipelines import load_text_to_image
    from course_utils.text_to_image import text_to_image_by_hand

    pipe = pipe if pipe is not None else load_text_to_image(device="cpu")
    noisy: dict[int, tuple[int, torch.Tensor]] = {}

    def keep(i, t, x_t, x0):              # x_t is the input of step i + 1, i.e. the latent after i steps
        noisy[i] = (int(t), x_t.detach().cpu())

    with torch.no_grad():
        final = text_to_image_by_hand(pipe, [PROMPT], generator=make_generator(SEED),
                                      num_inference_steps=STEPS, callback=keep) * 2 - 1
        size = final.shape[-1]
        z = noisy[0][1][0, :3]                                                    # the seed's noise, 3 channels
        noise = ((z - z.mean()) / (2.5 * z.std())).clamp(-1, 1)[None]
        noise = torch.nn.functional.interpolate(noise, size=(size, size), mode="nearest")
        scale = pipe.vae.config.scaling_factor
        middle = [pipe.vae.decode(noisy[i][1] / scale).sample.clamp(-1, 1) for i in AFTER_STEPS]
    total = len(noisy)
    titles = [f"the noise of seed {SEED}"] + [f"after {i} of {total} steps (t = {noisy[i][0]})" for i in AFTER_STEPS]
    titles.append(f"after {total} steps: the picture")
    return torch.cat([noise, *middle, final.cpu()]), titles


def write_story_picture(path: Path, pipe=None) -> Path:
    """Draw the four stages and save them as a PNG at ``path``; returns the path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames, titles = story_frames(pipe)
    fig = plotting.show_images(frames, titles, ncols=len(frames), size=2.6)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def draw_for_site(path: Path) -> tuple[str, str]:
    """What tools/build_site.py calls: the picture at ``path``, and its (alt text, caption)."""
    write_story_picture(path)
    return ALT_TEXT, CAPTION


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, nargs="?", default=ROOT / "build" / "site" / FILE_NAME,
                        help="where the PNG goes")
    path = write_story_picture(parser.parse_args(argv).out)
    print(f"Front-page picture: {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
