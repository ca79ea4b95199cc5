"""The machine the course runs on: which device, which versions, fast or full mode."""
from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

import torch

__all__ = ["FAST_ENV_VAR", "fast_mode", "pick", "pick_device", "check_device", "cpu_model", "cpu_has_bf16",
           "training_autocast", "environment_report", "print_environment"]

#: Set ``COURSE_FAST=1`` to train for fewer steps and sample fewer images (the tests do).
FAST_ENV_VAR = "COURSE_FAST"

_PACKAGES = ("torch", "diffusers", "transformers", "accelerate", "safetensors", "tokenizers", "numpy", "matplotlib")


def fast_mode() -> bool:
    """True when ``COURSE_FAST`` is set to 1/true/yes: notebooks then train and sample less."""
    value = os.environ.get(FAST_ENV_VAR, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{FAST_ENV_VAR}={value!r} is not understood; use {FAST_ENV_VAR}=1 for fast mode or unset it.")


def pick(full, fast):
    """``fast`` in fast mode, else ``full``: the one switch notebooks use for sizes of work."""
    return fast if fast_mode() else full


def pick_device() -> torch.device:
    """``cuda`` when a GPU is visible, else ``cpu``. Course code never hard-codes a device."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def check_device(device: object) -> torch.device:
    """``torch.device(device)``, or a clear ValueError for a name torch does not know or a GPU that is not there."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'mps', got {device!r} ({err}).") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' needs a GPU, and none is visible here. Leave device unset (the course "
                         "picks one with pick_device()) or pass device='cpu'.")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device='mps' needs Apple silicon; leave device unset or pass device='cpu'.")
    return dev


def cpu_model() -> str:
    """The processor's name as the OS reports it ("AMD EPYC", "Intel(R) Xeon(R) …"), or platform.processor()."""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8", errors="ignore"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_has_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (AVX512-BF16 or AMX): only then is bf16 autocast faster.
    Without it (many Intel Xeons) torch emulates bf16, and a training step was 2.8× slower in a measurement."""
    try:
        flags = next((line for line in open("/proc/cpuinfo", encoding="utf-8", errors="ignore")
                      if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def training_autocast(device: torch.device | str | None = None) -> str | None:
    """The autocast dtype recipes train with: "bf16" on a GPU that has it or a CPU that computes it natively,
    else None (fp32). Inference and notebooks' live cells stay fp32, so their outputs repeat bit for bit."""
    dev = torch.device(device) if device is not None else pick_device()
    if dev.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else None
    return "bf16" if dev.type == "cpu" and cpu_has_bf16() else None


def environment_report() -> dict[str, object]:
    """Versions, device, thread count and mode, as a dict (what ``print_environment`` shows)."""
    report: dict[str, object] = {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }
    for name in _PACKAGES:
        try:
            report[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            report[name] = "not installed"
    device = pick_device()
    report["device"] = str(device)
    report["gpu"] = torch.cuda.get_device_name(0) if device.type == "cuda" else "none"
    report["torch threads"] = torch.get_num_threads()
    report["cpu cores"] = os.cpu_count()
    report["fast mode"] = fast_mode()
    return report


def print_environment(file=None) -> dict[str, object]:
    """Print the environment report as an aligned table and return it."""
    report = environment_report()
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:<{width}}  {value}", file=file or sys.stdout)
    return report
