"""The storybook world: the course's data set, drawn by code from (subject, action, place) and a seed.

    render("squirrel", "fishing", "by a river", seed=934743)   # Tensor[3, 64, 64] in [-1, 1]

A scene is a cached background for the place, a subject drawn from ellipses and triangles (shape
and colour tell the subjects apart), and a prop for the action (a rod and line, an open book, a
pillow with "z"s and a lying pose, three balls in an arc). The seed jitters position, size, shade,
facing, tilt and the background variant. Images are drawn at 64 px with numpy masks computed only
inside each shape's bounding box (``course_utils/storybook_draw/``); ``size=32`` is the 2×2
average-pool of the 64 px image. ``size=128`` is the same scene (same layout, sizes, colours and
jitter for a seed) drawn with detail a viewer can name: eyes, ears, the squirrel's tail, the fishing
line and float, the book's pages, the balls, the places' textures (``storybook_draw/detail.py``). The 32
and 64 px pixels the shipped models learned stay exactly as they were. The 128 px scene matches them
to the subject's size within 2 %, its tilt within 1° and its position within a quarter of a 64 px
pixel: that rounding lets each subject pose and prop be drawn once and stamped (``storybook_draw/sprites.py``). ``render_masks`` gives the masks of the animal, its prop and the
place's region, consistent with the drawing; ``render_background`` the scene without them.

NEW_SUBJECTS holds the hedgehog, a seventh animal no shipped model saw (notebook 11 teaches it to the text-to-image
model): ``render``, ``render_batch`` and ``render_masks`` draw it only with ``allow_new=True``, and it is in no
split, pool, caption or vocabulary; ``your_photos()`` are its eight fixed renders.

HELD_OUT lists compositions that are never rendered for training; every pair inside each of them
(subject+action, subject+place, action+place) still appears among the training compositions, so a
model can only draw them by composing what it has seen.
"""
from __future__ import annotations

import difflib
from typing import Callable, Sequence

import numpy as np
import torch

from .plotting import show_images
from .seeding import make_generator, validate_seed
from .storybook_draw import ANIMAL, PLACE, PLACE_REGIONS, PROP, draw_scene

__all__ = ["subject_masks", "subject_batch", "SUBJECTS", "NEW_SUBJECTS", "YOUR_PHOTOS", "your_photos", "ACTIONS", "PLACES", "ALL_COMPOSITIONS", "HELD_OUT", "TRAIN_COMPOSITIONS", "SIZES",
           "compositions", "train_compositions", "caption", "normalize_caption", "parse_caption", "labels_of",
           "composition_of", "render", "render_batch", "render_masks", "render_background", "MASK_NAMES",
           "PLACE_REGIONS", "render_for_split", "sample_batch", "reference_renders", "render_pool", "render_captioned_pool",
           "pool_batches",
           "StorybookDataset", "gallery"]

SUBJECTS = ("squirrel", "fox", "rabbit", "bear", "owl", "frog")
#: Drawn only with ``allow_new=True``: in no split, pool, caption or vocabulary of the shipped models (notebook 11's new animal).
NEW_SUBJECTS = ("hedgehog",)
ACTIONS = ("fishing", "reading", "sleeping", "juggling")
PLACES = ("by a river", "in a forest", "on a mountain", "in the snow", "on a beach")
ALL_COMPOSITIONS = tuple((s, a, p) for s in SUBJECTS for a in ACTIONS for p in PLACES)
#: Never rendered for training. No two share a pair, so each of their pairs stays in training.
HELD_OUT = (
    ("squirrel", "fishing", "by a river"), ("fox", "reading", "in the snow"),
    ("rabbit", "juggling", "on a mountain"), ("bear", "sleeping", "on a beach"),
    ("owl", "fishing", "in a forest"), ("frog", "reading", "by a river"),
    ("squirrel", "sleeping", "in the snow"), ("fox", "juggling", "on a beach"),
    ("rabbit", "fishing", "on a beach"), ("bear", "reading", "in a forest"),
    ("owl", "juggling", "by a river"), ("frog", "sleeping", "on a mountain"),
)
TRAIN_COMPOSITIONS = tuple(c for c in ALL_COMPOSITIONS if c not in HELD_OUT)
SIZES = (32, 64, 128)
MASK_NAMES = ("animal", "prop", "place")
_SPLITS = {"train": TRAIN_COMPOSITIONS, "held_out": HELD_OUT, "all": ALL_COMPOSITIONS}
_HELD = frozenset(HELD_OUT)
_VOCAB = ("subjects: " + ", ".join(SUBJECTS) + "; actions: " + ", ".join(ACTIONS)
          + "; places: " + ", ".join(f"'{p}'" for p in PLACES))


# ----------------------------------------------------------------------------- words and splits
def compositions(split: str = "all") -> tuple[tuple[str, str, str], ...]:
    """The compositions of ``split``: "train" (108), "held_out" (12) or "all" (120)."""
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {tuple(_SPLITS)}, got {split!r}.")
    return _SPLITS[split]


def train_compositions() -> tuple[tuple[str, str, str], ...]:
    """The 108 compositions a model may see during training (all but HELD_OUT)."""
    return TRAIN_COMPOSITIONS


def _unknown(kind: str, word: str, known: Sequence[str]) -> ValueError:
    if word in NEW_SUBJECTS:
        return ValueError(f"{word!r} is the new animal: no shipped model saw it, so it is in no split, caption or "
                          f"vocabulary (that is {_VOCAB}). Draw it with render(..., allow_new=True).")
    near = difflib.get_close_matches(word, known, n=1, cutoff=0.0)
    hint = f" Did you mean {near[0]!r}?" if near else ""
    return ValueError(f"Unknown {kind} {word!r}.{hint} The storybook vocabulary is {_VOCAB}.")


def _check(subject: str, action: str, place: str, allow_new: bool = False) -> None:
    subjects = SUBJECTS + NEW_SUBJECTS if allow_new else SUBJECTS
    for kind, word, known in (("subject", subject, subjects), ("action", action, ACTIONS), ("place", place, PLACES)):
        if word not in known:
            raise _unknown(kind, str(word), known)


def caption(subject: str, action: str, place: str) -> str:
    """The caption of a composition: ``caption("squirrel", "fishing", "by a river")`` → "squirrel fishing by a river"."""
    _check(subject, action, place)
    return f"{subject} {action} {place}"


def normalize_caption(text: str) -> str:
    """The form the models were trained on: lower case, single spaces, no final full stop / ! / ?.

    ``parse_caption`` and the text-to-image pipeline both use it, so they accept the same texts:
    "Squirrel fishing by a river." → "squirrel fishing by a river". Other punctuation is left in
    place (and then refused as an unknown word).
    """
    if not isinstance(text, str):
        raise TypeError(f"a caption must be a string such as 'squirrel fishing by a river', got {type(text).__name__}.")
    return " ".join(text.lower().split()).rstrip(".!?").rstrip()


def parse_caption(text: str) -> tuple[str, str, str]:
    """Read (subject, action, place) from a caption; case, extra spaces, a final "." and a leading "a"/"an" are fine."""
    if not isinstance(text, str):
        raise TypeError(f"parse_caption needs a string such as 'squirrel fishing by a river', got {type(text).__name__}.")
    words = normalize_caption(text).split()
    if words and words[0] in ("a", "an"):
        words = words[1:]
    if len(words) < 3:
        raise ValueError(f"A caption reads '<subject> <action> <place>', e.g. 'squirrel fishing by a river'; "
                         f"got {text!r}. The storybook vocabulary is {_VOCAB}.")
    subject, action, place = words[0], words[1], " ".join(words[2:])
    _check(subject, action, place)
    return subject, action, place


def labels_of(subject: str, action: str, place: str) -> tuple[int, int, int]:
    """Indices into SUBJECTS, ACTIONS, PLACES: the judge's three class labels."""
    _check(subject, action, place)
    return SUBJECTS.index(subject), ACTIONS.index(action), PLACES.index(place)


def composition_of(labels: Sequence[int] | torch.Tensor) -> tuple[str, str, str]:
    """The inverse of ``labels_of``: three ints → (subject, action, place)."""
    values = labels.tolist() if isinstance(labels, (torch.Tensor, np.ndarray)) else labels
    if (not isinstance(values, (list, tuple)) or len(values) != 3
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values)):
        raise ValueError(f"labels must be three ints (subject, action, place), got {labels!r}.")
    for kind, v, words in zip(("subject", "action", "place"), values, (SUBJECTS, ACTIONS, PLACES)):
        if not 0 <= v < len(words):
            raise ValueError(f"{kind} label {v} is out of range: {kind} labels are 0 … {len(words) - 1} "
                             f"({', '.join(words)}).")
    return SUBJECTS[int(values[0])], ACTIONS[int(values[1])], PLACES[int(values[2])]




# ----------------------------------------------------------------------------- rendering
def _check_size(size: int) -> int:
    if isinstance(size, bool) or size not in SIZES:
        raise ValueError(f"size must be one of {SIZES} (pixels), got {size!r}. The pixel models use 32, the VAE "
                         "and plots 64; 128 is the detailed drawing of the same scene.")
    return int(size)


def _draw(triple: tuple[str, str, str], seed: int, size: int) -> np.ndarray:
    """The drawing behind a render: [64, 64, 3] for sizes 32 and 64, [128, 128, 3] for 128; in [0, 1]."""
    return draw_scene(*triple, seed, 128 if size == 128 else 64)


def _to_model_range(img: np.ndarray, size: int, out: np.ndarray | None = None) -> np.ndarray:
    """[64 or 128, …, 3] in [0, 1] → [3, size, size] in [-1, 1] (2×2 average pool of 64 px for size 32).

    With ``out`` [3, size, size] float32 the result is written there.
    """
    if size == 32:
        img = img.reshape(32, 2, 32, 2, 3).mean(axis=(1, 3))
    if out is None:
        out = np.empty((3, size, size), np.float32)
    # x = 2·pixel − 1 maps [0, 1] to the models' range [-1, 1] (in float32, channels last, then one copy)
    x = img * np.float32(2.0)
    x -= np.float32(1.0)
    out[...] = x.transpose(2, 0, 1)
    return out


def render(subject: str, action: str, place: str, *, seed: int, size: int = 64, allow_new: bool = False) -> torch.Tensor:
    """One scene as a float32 tensor [3, size, size] in [-1, 1]; the same seed gives the same pixels.
    ``allow_new=True`` also draws the NEW_SUBJECTS (the hedgehog)."""
    _check(subject, action, place, allow_new)
    seed, size = validate_seed(seed), _check_size(size)
    return torch.from_numpy(_to_model_range(_draw((subject, action, place), seed, size), size))


def render_batch(triples: Sequence[tuple[str, str, str]], seeds: Sequence[int], size: int = 64,
                 allow_new: bool = False) -> torch.Tensor:
    """Many scenes at once: [N, 3, size, size] in [-1, 1]; image i equals ``render(*triples[i], seed=seeds[i])``."""
    triples, seeds, size = list(triples), [validate_seed(s) for s in seeds], _check_size(size)
    if len(triples) != len(seeds):
        raise ValueError(f"got {len(triples)} compositions but {len(seeds)} seeds; give one seed per composition.")
    for t in set(triples):
        _check(*t, allow_new=allow_new)
    out = np.empty((len(triples), 3, size, size), np.float32)
    for i, (t, seed) in enumerate(zip(triples, seeds)):
        _to_model_range(_draw(t, seed, size), size, out[i])
    return torch.from_numpy(out)


def render_masks(subject: str, action: str, place: str, *, seed: int, size: int = 128,
                 allow_new: bool = False) -> torch.Tensor:
    """Where the animal, its prop and the place are in ``render(..., seed=seed, size=size)``: bool [3, size, size].

    Channels follow MASK_NAMES: the animal, its prop (rod, line and float; book; pillow and "z"s;
    balls) and the place's region (``PLACE_REGIONS``: the river's water, the forest's trees, the
    mountains, the snow with its flakes, the beach's sand and sea). Each holds the pixels that show
    that thing, so the three never overlap: a prop in front of the animal is the prop's, and a
    snowflake in front of the animal stays the animal's (one pixel, not a hole for inpainting to fill).
    At 32 px a pixel belongs to a mask when at least half of its 2×2 block at 64 px does.
    """
    _check(subject, action, place, allow_new)
    seed, size = validate_seed(seed), _check_size(size)
    _, labels = draw_scene(subject, action, place, seed, 128 if size == 128 else 64, labels=True)
    masks = np.stack([labels == ANIMAL, labels == PROP, labels == PLACE])
    if size == 32:
        masks = masks.reshape(3, 32, 2, 32, 2).mean(axis=(2, 4)) >= 0.5
    return torch.from_numpy(masks)


def subject_masks(triples: Sequence[tuple[str, str, str]], seeds: Sequence[int], size: int = 128) -> torch.Tensor:
    """Where the animal and its prop are in ``render_batch(triples, seeds, size)``: bool [N, size, size]
    (the union of ``render_masks``' first two channels; the pixels a picture's subject is made of)."""
    return torch.stack([render_masks(*t, seed=s, size=size)[:2].any(0) for t, s in zip(triples, seeds)])


def render_background(place: str, *, seed: int, size: int = 64) -> torch.Tensor:
    """The scene ``seed`` would show with no animal and no prop: Tensor[3, size, size] in [-1, 1].

    At 64 and 128 px ``render(s, a, place, seed=seed, size=size)`` equals it outside ``render_masks(...)[:2]`` (the
    ground truth for an inpainting that removes the animal).
    """
    _check(SUBJECTS[0], ACTIONS[0], place)
    seed, size = validate_seed(seed), _check_size(size)
    drawn = draw_scene(SUBJECTS[0], ACTIONS[0], place, seed, 128 if size == 128 else 64, figures=False)
    return torch.from_numpy(_to_model_range(drawn, size))


def render_for_split(subject: str, action: str, place: str, *, seed: int, size: int = 64,
                     split: str = "train") -> torch.Tensor:
    """``render``, but refuse a composition that is not in ``split`` (a held-out one asked for training)."""
    _check(subject, action, place)
    if (subject, action, place) not in compositions(split):
        raise ValueError(f"{caption(subject, action, place)!r} is not in the {split!r} split: it is one of the "
                         f"HELD_OUT compositions, never rendered for training. Use split='held_out' or 'all' to "
                         "evaluate on it, or pick a composition from TRAIN_COMPOSITIONS.")
    return render(subject, action, place, seed=seed, size=size)


def sample_batch(n: int, generator: torch.Generator, size: int = 32, split: str = "train"
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """A random batch for training loops: (images [n, 3, size, size] in [-1, 1], labels [n, 3] int64).

    Compositions (uniform over ``split``) and render seeds are drawn from ``generator``, so a
    training step's generator fixes its batch: ``batch_fn = lambda step, g: sample_batch(64, g)``.
    """
    if isinstance(n, bool) or not (isinstance(n, int) and n > 0):
        raise ValueError(f"n must be a positive int (the batch size), got {n!r}.")
    if not isinstance(generator, torch.Generator):
        raise TypeError("sample_batch needs a torch.Generator, e.g. seeding.make_generator(0).")
    triples, seeds = _batch_scenes(n, generator, split)
    labels = torch.tensor([labels_of(*t) for t in triples], dtype=torch.long)
    return render_batch(triples, seeds, size), labels


def _batch_scenes(n: int, generator: torch.Generator, split: str) -> tuple[list, list[int]]:
    """The compositions (uniform over ``split``) and render seeds of a random batch, drawn from ``generator``."""
    pool = compositions(split)
    picks = torch.randint(len(pool), (n,), generator=generator).tolist()
    seeds = torch.randint(0, 2**62, (n,), generator=generator).tolist()
    return [pool[i] for i in picks], seeds


def subject_batch(n: int, generator: torch.Generator, size: int = 128, split: str = "train") -> dict[str, torch.Tensor]:
    """The images of ``sample_batch(n, generator, size, split)`` and where their subjects are:
    ``{"images": [n, 3, size, size], "subject": bool [n, size, size]}`` (a decoder fine-tune's batch)."""
    if isinstance(n, bool) or not (isinstance(n, int) and n > 0):
        raise ValueError(f"n must be a positive int (the batch size), got {n!r}.")
    triples, seeds = _batch_scenes(n, generator, split)
    return {"images": render_batch(triples, seeds, size), "subject": subject_masks(triples, seeds, size)}


def reference_renders(n: int, seed: int = 0, size: int = 32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The two render sets every quality figure is scored against: ``(real, other, other_labels)``.

    ``real`` is ``n`` training-split renders drawn with generator ``seed + 1``: the reference a model's
    samples are compared with. ``other`` (generator ``seed + 2``) is a second set of renders: its score
    against ``real`` is the real-vs-real "floor", the best any model can get at this ``n``.
    """
    real, _ = sample_batch(n, make_generator(seed + 1), size)
    other, other_labels = sample_batch(n, make_generator(seed + 2), size)
    return real, other, other_labels


def render_pool(n: int, seed: int = 0, split: str = "train", size: int = 32) -> torch.Tensor:
    """``n`` renders [n, 3, size, size] of ``split``, drawn once with generator ``seed`` (rendering every
    batch afresh would cost as much as a small model's training step on this CPU)."""
    return sample_batch(n, make_generator(seed), size, split=split)[0]


def render_captioned_pool(n: int, seed: int, split: str = "train", size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` renders cycling through the split's compositions: (uint8 images [n, 3, size, size], comp ids [n]).

    The text-to-image model's training pool is ``render_captioned_pool(10_800, seed=0, size=128)``; each render's
    seed is the same at every size, so ``size=32`` gives the same scenes, smaller (notebook 10's memorisation check)."""
    pool = compositions(split)
    g = make_generator(seed)
    comp = torch.arange(n) % len(pool)
    seeds = torch.randint(0, 2**62, (n,), generator=g).tolist()
    images = torch.empty(n, 3, size, size, dtype=torch.uint8)
    for i in range(0, n, 512):
        x = render_batch([pool[c] for c in comp[i:i + 512].tolist()], seeds[i:i + 512], size)
        # pixel = round((x + 1) / 2 · 255)
        images[i:i + 512] = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return images, comp


def pool_batches(pool: torch.Tensor, batch_size: int = 64) -> Callable[[int, torch.Generator], torch.Tensor]:
    """``batch_fn(step, g)`` for ``training.train``: ``batch_size`` images picked from ``pool`` with ``g``."""
    if not isinstance(pool, torch.Tensor) or pool.dim() != 4 or pool.shape[0] < batch_size:
        raise ValueError(f"pool must be images [N, 3, H, W] with N ≥ batch_size = {batch_size}, got "
                         f"{tuple(getattr(pool, 'shape', ()))}. Make one with render_pool(n).")

    def batch_fn(step: int, g: torch.Generator) -> torch.Tensor:
        return pool[torch.randint(pool.shape[0], (batch_size,), generator=g)]
    return batch_fn


class StorybookDataset(torch.utils.data.Dataset):
    """A map-style data set of ``length`` scenes: item i → (image [3, size, size], caption, labels [3] int64).

    Item i shows composition ``compositions(split)[i % count]`` (every composition equally often)
    with a render seed made from (seed, i), so an item is the same every time it is asked for.
    """

    def __init__(self, split: str = "train", size: int = 32, length: int = 1080, seed: int = 0):
        self.pool = compositions(split)
        self.split, self.size, self.seed = split, _check_size(size), validate_seed(seed)
        if isinstance(length, bool) or not (isinstance(length, int) and length > 0):
            raise ValueError(f"length must be a positive int, got {length!r}.")
        self.length = length

    def __len__(self) -> int:
        return self.length

    def composition(self, index: int) -> tuple[str, str, str]:
        return self.pool[index % len(self.pool)]

    def render_seed(self, index: int) -> int:
        return int(np.random.default_rng([self.seed, index]).integers(0, 2**62))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str, torch.Tensor]:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int, got {index!r} ({type(index).__name__}).")
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} is out of range for a data set of length {self.length}.")
        index %= self.length
        t = self.composition(index)
        image = render(*t, seed=self.render_seed(index), size=self.size)
        return image, caption(*t), torch.tensor(labels_of(*t), dtype=torch.long)


#: The "your photos" set: eight fixed renders of the new animal, fishing or reading by a river, in a forest or on
#: a beach, so sleeping, juggling, the mountain and the snow stay for prompts the photos never showed.
YOUR_PHOTOS = tuple((("hedgehog", a, p), seed) for seed, (a, p) in enumerate(
    [("fishing", "by a river"), ("reading", "in a forest"), ("fishing", "on a beach"), ("reading", "by a river"),
     ("fishing", "in a forest"), ("reading", "on a beach"), ("fishing", "by a river"), ("reading", "in a forest")],
    start=2811))


def your_photos(size: int = 128) -> torch.Tensor:
    """The eight YOUR_PHOTOS renders of the hedgehog: [8, 3, size, size] in [-1, 1]."""
    return render_batch([t for t, _ in YOUR_PHOTOS], [s for _, s in YOUR_PHOTOS], size, allow_new=True)


_GALLERY = (("squirrel", "fishing", "by a river"), ("fox", "reading", "in a forest"),
            ("rabbit", "juggling", "in the snow"), ("bear", "sleeping", "on a mountain"),
            ("owl", "reading", "on a beach"), ("frog", "juggling", "by a river"),
            ("fox", "sleeping", "in the snow"), ("bear", "fishing", "on a beach"))


def gallery(triples: Sequence[tuple[str, str, str]] | None = None, *, seed: int = 0, size: int = 64,
            ncols: int = 4):
    """A figure of scenes with their captions (image i uses seed ``seed + i``); returns the Figure."""
    triples = list(_GALLERY if triples is None else triples)
    if not triples:
        raise ValueError("gallery needs at least one (subject, action, place) composition.")
    seed = validate_seed(seed)
    images = render_batch(triples, [seed + i for i in range(len(triples))], size)
    return show_images(images, [caption(*t) for t in triples], ncols=ncols, size=1.8)
