"""Checks of the exercises in 11_make_it_yours (solutions: ``course_utils/solutions/nb11_make_it_yours.py``)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..exercises import Wrong, exercise, exercise_inputs
from ..seeding import make_generator


def _peft_count(d_in: int, d_out: int, r: int) -> int:
    """How many numbers peft trains for a rank-r LoRA on one d_in → d_out linear layer (counted, not computed)."""
    from peft import LoraConfig, inject_adapter_in_model
    net = inject_adapter_in_model(LoraConfig(r=r, lora_alpha=r, target_modules=["0"]),
                                  torch.nn.Sequential(torch.nn.Linear(d_in, d_out)))
    return sum(p.numel() for n, p in net.named_parameters() if "lora_" in n)


@exercise("11.lora_parameters", hint="A is [r, d_in] and B is [d_out, r]; W [d_out, d_in] stays frozen, so count "
                                     "only A's and B's entries.")
def _check_lora_parameters(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function lora_parameter_count(d_in, d_out, r) that returns a whole number.")
    for d_in, d_out, r in ((64, 64, 4), (64, 320, 8), (768, 320, 1)):
        got, expected = answer(d_in, d_out, r), _peft_count(d_in, d_out, r)
        if isinstance(got, torch.Tensor):
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise Wrong(f"lora_parameter_count should return a number, got {type(got).__name__}.")
        if got == d_in * d_out:
            raise Wrong("That is the size of W itself, which LoRA leaves frozen.")
        if got in (r * d_in, r * d_out) and got != expected:
            raise Wrong("That counts only one of the two matrices: LoRA trains both A and B.")
        if got == r * d_in * d_out:
            raise Wrong("The two matrices are added, not multiplied: A has r·d_in entries and B has d_out·r.")
        if got != expected:
            raise Wrong(f"For d_in = {d_in}, d_out = {d_out}, r = {r} peft trains {expected} numbers, not {got}.")


@exercise("11.moved_rows", hint="compare the tables row by row: (after != before).any(dim=1) is True for a row "
                                "with any entry changed; .nonzero().flatten().tolist() turns that into indices.")
def _check_moved_rows(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function moved_rows(before, after) that returns the list of row indices that changed.")
    before, after = exercise_inputs("11.moved_rows")
    base = torch.randn(9, 4, generator=make_generator(656232))
    nudged = base.clone()
    nudged[[2, 7]] += torch.tensor(1e-6)          # a tiny change is still a change
    cases = [(before, after, [11]), (base, base.clone(), []), (base, nudged, [2, 7])]
    for b, a, expected in cases:
        got = answer(b, a)
        if isinstance(got, torch.Tensor):
            got = got.flatten().tolist()
        if isinstance(got, int) and not isinstance(got, bool):
            raise Wrong("Give the indices of the rows that moved, as a list, not how many there are.")
        if not isinstance(got, (list, tuple)) or not all(isinstance(i, int) for i in got):
            raise Wrong(f"moved_rows should return a list of row indices, got {type(got).__name__}.")
        if sorted(got) != expected:
            raise Wrong(f"For a pair of tables where rows {expected} changed, your function found {sorted(got)}.")


@exercise("11.prior_loss", hint="the first n_photos rows are the photos, the rest the class images: "
                                "F.mse_loss(eps_hat[:n], eps[:n]) + weight · F.mse_loss(eps_hat[n:], eps[n:]).")
def _check_prior_loss(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function prior_preservation(eps_hat, eps, n_photos, weight) that returns the loss.")
    g = make_generator(934743)
    eps_hat, eps = torch.randn(8, 4, 16, 16, generator=g), torch.randn(8, 4, 16, 16, generator=g)
    eps_hat[4:] += 0.5                          # the class half is further off, so its term differs
    for n, weight in ((4, 1.0), (4, 0.5), (2, 2.0)):
        photo, prior = F.mse_loss(eps_hat[:n], eps[:n]), F.mse_loss(eps_hat[n:], eps[n:])
        got = answer(eps_hat, eps, n, weight)
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            raise Wrong("prior_preservation should return one number as a tensor (a loss to call .backward() on).")
        if torch.allclose(got, F.mse_loss(eps_hat, eps), atol=1e-6):
            raise Wrong("That is one squared error over all rows: split them into photos and class images first.")
        if torch.allclose(got, weight * photo + prior, atol=1e-6) and weight != 1.0:
            raise Wrong(f"With weight {weight} the weight multiplies the wrong term: λ belongs to the class images.")
        if torch.allclose(got, photo, atol=1e-6):
            raise Wrong("That is the photos' term alone: add the class images' term, times the weight.")
        if not torch.allclose(got, photo + weight * prior, atol=1e-5):
            raise Wrong(f"With n_photos = {n} and weight {weight} the loss is {float(photo + weight * prior):.4f}, "
                        f"not {float(got):.4f}.")
