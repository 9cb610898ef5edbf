"""BatchNorm over the global batch for CPU processes (gloo).

torch's SyncBatchNorm runs on GPUs only. Without it, each of N CPU processes would
normalise its own 1/N of the batch: smaller, noisier batch statistics than one process
sees, so a run on N processes would train another model than a run on one.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as distributed_fn
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


class GlobalBatchNorm(_BatchNorm):
    """BatchNorm (of any dimensionality) whose training statistics are those of the batch of
    every process together: the mean and the biased variance of the global batch, in two
    passes as one process computes them. The all-reduces are differentiable, so the
    gradients also flow as if one process held the whole batch."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected an input of at least 2 dimensions (N, C, ...), got {input.dim()}")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        values = input.float()
        dims = [0, *range(2, values.dim())]
        shape = [1, values.shape[1]] + [1] * (values.dim() - 2)
        local_count = values.new_tensor([values.numel() // values.shape[1]])
        totals = distributed_fn.all_reduce(torch.cat([values.sum(dims), local_count]))  # one message: sums, count
        count = totals[-1]
        mean = totals[:-1] / count
        centred = values - mean.view(shape)
        variance = distributed_fn.all_reduce((centred * centred).sum(dims)) / count
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), variance.detach(), count.item())
        output = centred * torch.rsqrt(variance.view(shape) + self.eps)
        if self.affine:
            output = output * self.weight.view(shape) + self.bias.view(shape)
        return output.to(input.dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, variance: torch.Tensor, count: float) -> None:
        """As nn.BatchNorm does: an exponential (or, with momentum None, cumulative) average,
        the variance unbiased."""
        self.num_batches_tracked += 1
        momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.lerp_(mean, momentum)
        self.running_var.lerp_(variance * count / max(count - 1.0, 1.0), momentum)


def global_batchnorm(module: nn.Module) -> nn.Module:
    """`module` with every BatchNorm layer replaced by a GlobalBatchNorm that holds the same
    parameter and buffer tensors (an optimizer made before or after sees the same ones)."""
    if isinstance(module, _BatchNorm) and not isinstance(module, GlobalBatchNorm):
        replaced = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                   module.track_running_stats)
        for name, tensor in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
            setattr(replaced, name, tensor)
        return replaced.train(module.training)
    for name, child in module.named_children():
        module.add_module(name, global_batchnorm(child))
    return module
