import pytest
import torch

from course_utils import env


def test_pick_device_matches_cuda_availability():
    assert env.pick_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("", False), ("0", False), ("no", False)])
def test_fast_mode(monkeypatch, value, expected):
    monkeypatch.setenv(env.FAST_ENV_VAR, value)
    assert env.fast_mode() is expected
    assert env.pick("full", "fast") == ("fast" if expected else "full")


def test_fast_mode_rejects_nonsense(monkeypatch):
    monkeypatch.setenv(env.FAST_ENV_VAR, "maybe")
    with pytest.raises(ValueError, match="COURSE_FAST=1"):
        env.fast_mode()


def test_environment_report(capsys):
    report = env.print_environment()
    for key in ("python", "torch", "diffusers", "transformers", "device", "torch threads", "fast mode"):
        assert key in report
    assert report["torch"].startswith("2.13.0")
    out = capsys.readouterr().out
    assert "diffusers" in out and "0.42.1" in out


def test_check_device_names_the_problem():
    from course_utils.env import check_device
    assert check_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'mps'"):
        check_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="needs a GPU, and none is visible"):
            check_device("cuda")


def test_training_autocast_is_bf16_only_where_the_cpu_computes_it(monkeypatch):
    from course_utils import env
    monkeypatch.setattr(env, "cpu_has_bf16", lambda: True)
    assert env.training_autocast("cpu") == "bf16"
    monkeypatch.setattr(env, "cpu_has_bf16", lambda: False)
    assert env.training_autocast("cpu") is None                 # emulated bf16 was 2.8× slower on such a Xeon
    assert isinstance(env.cpu_model(), str) and env.cpu_model()
    flags = open("/proc/cpuinfo").read() if __import__("os").path.exists("/proc/cpuinfo") else ""
    monkeypatch.undo()
    assert env.cpu_has_bf16() == (" avx512_bf16" in flags or " amx_bf16" in flags)
