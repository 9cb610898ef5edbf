"""Training lengths that follow the data: a run still learning trains again at twice the epochs."""
import torch

from pipeline.core.runtime import RuntimeParams
from pipeline.eval.convergence import ConvergenceParams
from pipeline.training.classifier import TrainClassifierParams, train_classifier
from pipeline.training.lengths import train_until_levelled
from pipeline.training.loop import OptimParams

RULE = ConvergenceParams(val_map_rise=0.005, loss_fall=0.1, doublings=2)


def _losses_until(levelled_at: int):
    """A stand-in trainer whose loss falls by half an epoch up to `levelled_at` epochs, then stays."""
    asked = []

    def train(optim: OptimParams):
        asked.append(optim.epochs)
        losses = [0.5 ** min(epoch, levelled_at) for epoch in range(1, optim.epochs + 1)]
        return f"model@{optim.epochs}", [{"epoch": i + 1, "loss": loss} for i, loss in enumerate(losses)]

    return train, asked


def test_a_run_still_learning_trains_again_at_twice_the_epochs_until_it_levels_off():
    train, asked = _losses_until(levelled_at=8)
    model, history = train_until_levelled(train, OptimParams(epochs=5), RULE, "deeplab")
    assert asked == [5, 10] and model == "model@10" and len(history) == 10


def test_a_run_that_has_levelled_off_trains_once():
    train, asked = _losses_until(levelled_at=3)
    assert train_until_levelled(train, OptimParams(epochs=5), RULE, "deeplab")[0] == "model@5"
    assert asked == [5]


def test_doublings_cap_the_length_and_zero_keeps_it_fixed():
    train, asked = _losses_until(levelled_at=100)
    assert train_until_levelled(train, OptimParams(epochs=5), RULE, "deeplab")[0] == "model@20"
    assert asked == [5, 10, 20]
    train, asked = _losses_until(levelled_at=100)
    train_until_levelled(train, OptimParams(epochs=5), ConvergenceParams(doublings=0), "deeplab")
    assert asked == [5]


def test_a_grown_classifier_is_the_run_its_length_gives_directly(tiny_manifest):
    """The grown run starts again from its seed, so it matches `-S train_classifier.optim.epochs=2`."""
    optim = OptimParams(epochs=1, batch_size=4)
    params = TrainClassifierParams(crop_size=32, optim=optim)
    runtime, device = RuntimeParams(), torch.device("cpu")
    grown, grown_history = train_classifier(tiny_manifest, "train", "val", params, 0, runtime, device,
                                            ConvergenceParams(doublings=1))  # one epoch: no trend, still learning
    params.optim = OptimParams(epochs=2, batch_size=4)
    direct, direct_history = train_classifier(tiny_manifest, "train", "val", params, 0, runtime, device,
                                              ConvergenceParams(doublings=0))
    assert len(grown_history) == 2 and grown_history == direct_history
    assert all(torch.equal(a, b) for a, b in zip(grown.state_dict().values(), direct.state_dict().values()))
