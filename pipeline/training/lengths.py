"""Training lengths that follow the data: a run still learning in its last epoch is trained
again, from the start, at twice the epochs.

The lengths in params.yaml were sized on the built-in data; on harder data (the
photographs: the classifier's val mAP and DeepLab's loss still climbing and falling in
their last epoch) every later stage inherited the shortfall. The poly schedule needs its
length in advance, so a run cannot simply go on: it starts again at the longer length,
which makes the grown run the very run that `-S <stage>.optim.epochs=<that length>` gives.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import TypeVar

import torch.distributed as dist

from pipeline.eval.convergence import ConvergenceParams, gain_phrase, last_epoch_progress
from pipeline.training.loop import OptimParams

log = logging.getLogger(__name__)
Model = TypeVar("Model")


def _agreed(decision: bool) -> bool:
    """Rank 0's `decision` on every process (only rank 0 holds the validation figures)."""
    if not dist.is_initialized():
        return decision
    shared = [decision]
    dist.broadcast_object_list(shared, src=0)
    return shared[0]


def train_until_levelled(train: Callable[[OptimParams], tuple[Model, list[dict]]], optim: OptimParams,
                         rule: ConvergenceParams, name: str) -> tuple[Model, list[dict]]:
    """`train(optim)` at `optim.epochs`, then again from the start at twice as many while the
    last epoch still gained more than `rule` calls levelled off, at most `rule.doublings`
    times. `train` must start from its seed each time. Returns the last run."""
    epochs, doublings_left = optim.epochs, rule.doublings
    while True:
        model, history = train(dataclasses.replace(optim, epochs=epochs))
        progress = last_epoch_progress(history, rule)
        if not _agreed(progress["still_learning"] and doublings_left > 0):
            return model, history
        log.info("%s: %s in the last of %d epochs; training again from the start for %d epochs", name,
                 gain_phrase(progress), epochs, epochs * 2)
        epochs, doublings_left = epochs * 2, doublings_left - 1
