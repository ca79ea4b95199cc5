import subprocess
import sys

import pytest
import torch

from course_utils.seeding import MAX_SEED, make_generator, noise_canvas, seed_everything, validate_seed


def test_same_seed_same_numbers():
    a = torch.randn(3, 64, 64, generator=make_generator(934743))
    b = torch.randn(3, 64, 64, generator=make_generator(934743))
    assert torch.equal(a, b)


def test_new_seed_new_numbers():
    a = torch.randn(3, 64, 64, generator=make_generator(934743))
    b = torch.randn(3, 64, 64, generator=make_generator(656232))
    assert not torch.equal(a, b)


def test_generator_is_cpu_by_default():
    assert make_generator(1).device == torch.device("cpu")


@pytest.mark.parametrize("seed", [0, 1, 934743, MAX_SEED - 1])
def test_valid_seeds(seed):
    assert validate_seed(seed) == seed
    make_generator(seed)


@pytest.mark.parametrize("bad, words", [
    (-1, "[0, 2**63)"), (MAX_SEED, "[0, 2**63)"), (1.5, "whole number"), ("abc", "whole number"),
    (None, "whole number"), (True, "whole number"), ([1], "whole number"),
])
def test_bad_seeds_raise_clear_errors(bad, words):
    with pytest.raises(ValueError) as err:
        make_generator(bad)
    assert words in str(err.value)


def test_numpy_integers_are_seeds():
    import numpy as np
    assert validate_seed(np.int64(7)) == 7


def test_cuda_generator_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="needs a GPU"):
        make_generator(1, device="cuda")


def test_seed_everything_seeds_global_rngs():
    seed_everything(5)
    a = torch.rand(3)
    g = seed_everything(5)
    assert torch.equal(a, torch.rand(3))
    assert torch.equal(torch.rand(3, generator=g), torch.rand(3, generator=make_generator(5)))


def test_noise_canvas():
    canvas = noise_canvas(934743)
    assert canvas.shape == (3, 64, 64) and canvas.dtype == torch.float32
    assert torch.equal(canvas, torch.randn(3, 64, 64, generator=make_generator(934743)))
    assert noise_canvas(1, size=8, channels=1).shape == (1, 8, 8)
    with pytest.raises(ValueError, match="positive ints"):
        noise_canvas(1, size=0)


@pytest.mark.slow
def test_same_seed_is_bitwise_equal_across_processes():
    code = ("import torch, hashlib; from course_utils.seeding import noise_canvas; "
            "print(hashlib.sha256(noise_canvas(934743).numpy().tobytes()).hexdigest())")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
            for _ in range(2)]
    import hashlib
    here = hashlib.sha256(noise_canvas(934743).numpy().tobytes()).hexdigest()
    assert runs[0] == runs[1] == here


def test_seeded_init_fixes_initial_weights_and_leaves_the_global_rng_alone():
    import torch
    from course_utils.seeding import seeded_init
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with seeded_init(7):
        a = torch.nn.Linear(4, 4).weight.detach().clone()
    assert torch.equal(torch.rand(3), expected_next)          # the caller's global draws are untouched
    with seeded_init(7):
        b = torch.nn.Linear(4, 4).weight.detach().clone()
    with seeded_init(8):
        c = torch.nn.Linear(4, 4).weight.detach().clone()
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="seed"):
        with seeded_init(-1):
            pass


@pytest.mark.parametrize("call, match", [
    (lambda: make_generator(0, "tpu"), "device must be 'cpu', 'cuda' or 'mps'"),
    (lambda: make_generator(0, 3.5), "device must be"),
    (lambda: noise_canvas(0, True), "size and channels must be positive ints"),
    (lambda: noise_canvas(0, 64, 0), "size and channels"),
    (lambda: noise_canvas(0, 10**6), "GiB"),
])
def test_bad_devices_and_sizes_are_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
