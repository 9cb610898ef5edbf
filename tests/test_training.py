"""The training loop: poly schedule, head learning-rate multiplier, NaN stop, history rows."""
import pytest
import torch

from pipeline.core.errors import PipelineError
from pipeline.training.loop import OptimParams, fit, make_optimizer, poly_lr_scale


class TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Linear(2, 2)
        self.head = torch.nn.Linear(2, 1)

    def forward(self, x):
        return self.head(self.body(x))


def _loader(batches: int):
    data = torch.utils.data.TensorDataset(torch.randn(batches, 2))
    return torch.utils.data.DataLoader(data, batch_size=1)


def test_poly_schedule_at_given_steps():
    assert poly_lr_scale(0, 100, 0.9) == 1.0
    assert poly_lr_scale(50, 100, 0.9) == pytest.approx(0.5 ** 0.9)
    assert poly_lr_scale(99, 100, 1.0) == pytest.approx(0.01)
    assert poly_lr_scale(0, 0, 0.9) == 1.0  # no steps: no division by zero


def test_fit_applies_the_poly_lr_to_backbone_and_head():
    torch.manual_seed(0)
    model = TinyNet()
    params = OptimParams(optimizer="sgd", epochs=2, lr=0.1, head_lr_mult=10.0, poly_power=1.0)
    optimizer = make_optimizer(model, [model.head], params)
    seen = []

    def step(batch, progress):
        seen.append((progress, [group["lr"] for group in optimizer.param_groups]))
        return {"l2": model(batch[0]).pow(2).mean()}

    history = fit(model, _loader(5), optimizer, params, step)
    assert len(seen) == 10 and len(history) == 2
    for index, (progress, (backbone_lr, head_lr)) in enumerate(seen):
        assert progress == pytest.approx(index / 10)
        assert backbone_lr == pytest.approx(0.1 * (1 - index / 10))
        assert head_lr == pytest.approx(1.0 * (1 - index / 10))
    assert set(history[0]) == {"epoch", "l2", "loss"} and history[1]["epoch"] == 2


def test_make_optimizer_puts_frozen_parameters_nowhere():
    model = TinyNet()
    model.body.requires_grad_(False)
    optimizer = make_optimizer(model, [model.head], OptimParams())
    assert len(optimizer.param_groups) == 1 and optimizer.param_groups[0]["lr_mult"] == 1.0
    assert {id(p) for p in optimizer.param_groups[0]["params"]} == {id(p) for p in model.head.parameters()}


def test_a_loss_that_is_not_finite_stops_training():
    model = TinyNet()
    params = OptimParams(epochs=1)
    optimizer = make_optimizer(model, [model.head], params)
    with pytest.raises(PipelineError, match="demo: loss became nan at epoch 1; lower the lr"):
        fit(model, _loader(3), optimizer, params, lambda batch, progress: {"x": torch.tensor(float("nan"))},
            desc="demo")
