"""The one training loop: poly-decayed SGD or AdamW, per-epoch callbacks, a NaN stop; on
several processes, DistributedDataParallel over the same global batch."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from pipeline.core.config import bounded, choice
from pipeline.core.errors import PipelineError
from pipeline.core.runtime import RuntimeParams
from pipeline.distributed.world import World
from pipeline.training.batchnorm import global_batchnorm
from pipeline.training.runtime import join_process_group


@dataclass
class OptimParams:
    """Optimizer and schedule of one training stage; new layers train at `head_lr_mult`
    times the backbone lr. Defaults: the classifier's shipped values."""

    optimizer: str = choice("adamw", ("sgd", "adamw"))
    epochs: int = bounded(10, 1)
    batch_size: int = bounded(16, 1)
    lr: float = bounded(0.001, 0.0)
    head_lr_mult: float = bounded(1.0, 0.0)
    momentum: float = bounded(0.9, 0.0, 1.0)
    weight_decay: float = bounded(1e-4, 0.0)
    poly_power: float = bounded(0.9, 0.0)


def poly_lr_scale(step: int, total_steps: int, power: float) -> float:
    """The poly schedule: the share of the base lr at `step` of `total_steps`, (1 - step/total)^power."""
    return (1 - step / max(total_steps, 1)) ** power


def make_loader(dataset: Dataset, batch_size: int, runtime: RuntimeParams, seed: int, device: torch.device,
                world: World | None = None) -> DataLoader:
    """A shuffled training loader whose order repeats for the same seed.

    On several processes each takes `batch_size / world.size` samples of every global
    batch (a DistributedSampler seeded with `seed`), so N processes take as many steps
    per epoch, of the same global batch size, as one process: the lr schedule is the same.
    """
    world = world or World()
    pin = device.type == "cuda"  # page-locked batches copy to the GPU asynchronously
    if world.size == 1:
        return DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=len(dataset) > batch_size,
                          num_workers=runtime.num_workers, generator=torch.Generator().manual_seed(seed),
                          pin_memory=pin)
    if batch_size % world.size:
        raise PipelineError(f"params.yaml: optim.batch_size={batch_size} must be divisible by the {world.size} "
                            "processes (runtime.nproc times the machines), so that they train the same global batch")
    sampler = DistributedSampler(dataset, world.size, world.rank, shuffle=True, seed=seed, drop_last=True)
    return DataLoader(dataset, batch_size=batch_size // world.size, sampler=sampler,
                      drop_last=len(dataset) > batch_size, num_workers=runtime.num_workers, pin_memory=pin)


def distribute(model: nn.Module, world: World, runtime: RuntimeParams, device: torch.device) -> nn.Module:
    """`model` as trained on `world`: itself in one process, else DistributedDataParallel
    (gradients averaged over the processes after every backward pass).

    BatchNorm normalises with the statistics of the global batch: SyncBatchNorm on GPUs,
    GlobalBatchNorm on CPUs (where torch's SyncBatchNorm does not run), so N processes
    train as one does. Every process starts from the same weights (the same seed; DDP also
    broadcasts rank 0's).
    """
    if world.size == 1:
        return model
    join_process_group(world, runtime, device)
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    else:
        model = global_batchnorm(model)
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def make_optimizer(model: nn.Module, new_layers: list[nn.Module], params: OptimParams) -> torch.optim.Optimizer:
    """The configured optimizer: `new_layers` at `head_lr_mult` times the lr, every other
    trainable parameter of `model` (the backbone) at the lr."""
    new_ids = {id(p) for layer in new_layers for p in layer.parameters()}
    backbone = [p for p in model.parameters() if id(p) not in new_ids and p.requires_grad]
    new = [p for p in model.parameters() if id(p) in new_ids]
    groups = [(backbone, 1.0), (new, params.head_lr_mult)]
    param_groups = [{"params": p, "lr": params.lr * mult, "lr_mult": mult} for p, mult in groups if p]
    # One fused kernel per step instead of a loop over tensors (on the CPU, the loop alone
    # was a visible share of a ResNet-18 training step).
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in backbone + new)
    if params.optimizer == "adamw":
        return torch.optim.AdamW(param_groups, lr=params.lr, weight_decay=params.weight_decay, fused=fused)
    return torch.optim.SGD(param_groups, lr=params.lr, momentum=params.momentum, weight_decay=params.weight_decay,
                           fused=fused)


def fit(
    model: nn.Module,
    loader: torch.utils.data.DataLoader,
    optimizer: torch.optim.Optimizer,
    params: OptimParams,
    step: Callable[[dict[str, torch.Tensor], float], dict[str, torch.Tensor]],
    on_epoch_end: Callable[[int], dict[str, float]] | None = None,
    desc: str = "train",
) -> list[dict[str, float]]:
    """Train for `params.epochs`; `step(batch, progress)` returns named loss terms.

    The loss is their sum. Returns one history row per epoch: the mean of every term,
    the total, and whatever `on_epoch_end(epoch)` adds (validation figures; on rank 0 only,
    the one process that writes the history). A loss that is not finite stops training
    with a one-line error.
    """
    total_steps = params.epochs * len(loader)
    history, step_index = [], 0
    distributed = dist.is_initialized()
    main = not distributed or dist.get_rank() == 0
    for epoch in range(params.epochs):
        model.train()
        if hasattr(loader.dataset, "epoch"):
            loader.dataset.epoch = epoch
        if isinstance(loader.sampler, DistributedSampler):
            loader.sampler.set_epoch(epoch)
        sums: dict[str, float] = {}
        bar = tqdm(loader, desc=f"{desc} epoch {epoch + 1}/{params.epochs}", unit="batch", disable=not main)
        for batch in bar:
            lr_scale = poly_lr_scale(step_index, total_steps, params.poly_power)
            for group in optimizer.param_groups:
                group["lr"] = params.lr * group["lr_mult"] * lr_scale
            terms = step(batch, step_index / max(total_steps, 1))
            loss = sum(terms.values())
            if not torch.isfinite(loss):
                raise PipelineError(f"{desc}: loss became {loss.item()} at epoch {epoch + 1}; lower the lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step_index += 1
            for name, value in {**terms, "loss": loss}.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach())
            bar.set_postfix(loss=f"{loss.item():.4f}")
        if distributed:  # the history holds the mean over every process's share of the batches
            # on the model's device: NCCL reduces CUDA tensors only
            totals = torch.tensor(list(sums.values()), dtype=torch.float64, device=next(model.parameters()).device)
            dist.all_reduce(totals)
            sums = dict(zip(sums, (totals / dist.get_world_size()).tolist()))
        row = {"epoch": epoch + 1, **{k: v / len(loader) for k, v in sums.items()}}
        if on_epoch_end is not None and main:
            row.update(on_epoch_end(epoch))
        history.append(row)
        if main:
            tqdm.write(f"{desc} epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch"))
    return history
