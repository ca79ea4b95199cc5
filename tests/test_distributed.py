"""The one training command runs on several processes: torchrun with 2 CPU processes (gloo)."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_utils import distributed
from course_utils.training import step_generator

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_train_identical_parameters(tmp_path):
    env = {**os.environ, "COURSE_FAST": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-m", "course_utils.train", "judge", "--steps", "2",
           "--out", str(tmp_path / "judge"), "--run-dir", str(tmp_path / "run")]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = re.findall(r"\[rank (\d) of world size (\d)\] parameters sha256 ([0-9a-f]{64})", done.stdout + done.stderr)
    assert sorted(rank for rank, _, _ in lines) == ["0", "1"], done.stdout[-2000:]
    assert {world for _, world, _ in lines} == {"2"}
    assert len({digest for _, _, digest in lines}) == 1, "the two ranks ended with different parameters"
    assert (tmp_path / "judge" / "model.safetensors").exists()          # rank 0 saved the model


def test_single_process_is_untouched(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    state = distributed.setup()
    assert state.world_size == 1 and state.rank == 0 and state.is_main
    model = torch.nn.Linear(2, 2)
    model.weight.grad = torch.ones(2, 2)
    distributed.average_gradients(model.parameters(), state)           # a no-op on one process
    assert torch.equal(model.weight.grad, torch.ones(2, 2))


def test_ranks_draw_different_batches_and_rank0_keeps_single_process_draws():
    a, b = (torch.rand(4, generator=step_generator(7, 3, rank)) for rank in (0, 1))
    assert not torch.equal(a, b)
    assert torch.equal(a, torch.rand(4, generator=step_generator(7, 3)))


def test_parameter_digest_sees_any_change():
    model = torch.nn.Linear(3, 3)
    before = distributed.parameter_digest(model)
    assert before == distributed.parameter_digest(model)
    with torch.no_grad():
        model.bias[0] += 1e-6
    assert distributed.parameter_digest(model) != before


def test_is_main_process_reads_rank(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    assert not distributed.is_main_process()
    monkeypatch.setenv("RANK", "0")
    assert distributed.is_main_process()
