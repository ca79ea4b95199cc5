"""Training on several processes (GPUs or CPU cores) with 🤗 accelerate, for the one training loop.

The course trains on one process. The same command scales out unchanged:

    torchrun --nproc_per_node 2 -m course_utils.train judge
    accelerate launch --multi_gpu --num_processes 2 -m course_utils.train judge   # GPUs, or CPU with gloo

(On accelerate 1.15, ``accelerate launch --cpu --num_processes 2`` silently starts ONE process; use
``--multi_gpu`` or torchrun.) Each process draws its own batch from a generator made from
(seed, step, rank); after every backward pass the gradients are averaged across processes, so every
process takes the same optimizer step and the parameters stay identical, as with DistributedDataParallel.
Averaging gradients by hand, rather than wrapping the model in DDP, keeps loss functions free to call
any method of the model.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Iterable

import torch

__all__ = ["DistState", "world_size_from_env", "is_main_process", "setup", "broadcast_parameters",
           "broadcast_buffers", "average_gradients", "parameter_digest"]


@dataclass(frozen=True)
class DistState:
    rank: int = 0
    world_size: int = 1
    device: torch.device | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world_size_from_env() -> int:
    """WORLD_SIZE as set by torchrun / accelerate launch (1 when not launched by them)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True on rank 0, and in any process that was not launched by torchrun / accelerate."""
    return int(os.environ.get("RANK", "0")) == 0


def setup() -> DistState:
    """Start the process group through accelerate when launched with several processes."""
    if world_size_from_env() <= 1:
        return DistState()
    from accelerate import PartialState  # imported only when needed: it is slow to import

    state = PartialState(cpu=not torch.cuda.is_available())
    return DistState(rank=state.process_index, world_size=state.num_processes, device=state.device)


def broadcast_parameters(model: torch.nn.Module, dist: DistState) -> None:
    """Copy rank 0's parameters and buffers to every process (so all start equal)."""
    if dist.world_size <= 1:
        return
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            torch.distributed.broadcast(tensor.data, src=0)


def broadcast_buffers(model: torch.nn.Module, dist: DistState) -> None:
    """Copy rank 0's buffers (e.g. BatchNorm running statistics) to every process, as DDP does."""
    if dist.world_size <= 1:
        return
    with torch.no_grad():
        for tensor in model.buffers():
            torch.distributed.broadcast(tensor.data, src=0)


def average_gradients(params: Iterable[torch.nn.Parameter], dist: DistState) -> None:
    """g ← (1/W) Σ_ranks g, in one all-reduce over a flat buffer of every gradient."""
    if dist.world_size <= 1:
        return
    params = [p for p in params if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    torch.distributed.all_reduce(flat, op=torch.distributed.ReduceOp.SUM)
    flat /= dist.world_size
    offset = 0
    for p in params:
        n = p.grad.numel()
        p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
        offset += n


def parameter_digest(model: torch.nn.Module) -> str:
    """sha256 of every parameter's bytes, in order: equal digests ⇒ bitwise-equal models."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu").contiguous().numpy().tobytes())
    return digest.hexdigest()
