"""Several processes (gloo on the CPU): the same global batch, identical inference outputs,
and a failing process that stops the others instead of hanging.

Stage-level checks on the tiny pipeline are in tests/test_pipeline_e2e.py.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pipeline.core.errors import PipelineError
from pipeline.distributed.launch import launch_local
from pipeline.distributed.shards import part_path, sharded_output, wait_for_parts
from pipeline.distributed.world import World
from tests.conftest import REPO, assert_children_exit_with

# A linear model (or, with --batchnorm, one with a BatchNorm layer between two linear ones)
# trained for one step on a batch of 8 samples: by one process on all of them, or by two
# processes on 4 each with their gradients averaged. With --masked the loss is a mean over
# the samples of index below 5 only: the processes hold different numbers of them.
STEP_SCRIPT = """
import sys
import torch
from torch import nn
from pipeline.core.runtime import RuntimeParams
from pipeline.distributed.reduce import global_batch_scale
from pipeline.distributed.world import World
from pipeline.training.loop import OptimParams, distribute, fit, make_loader, make_optimizer
from pipeline.training.runtime import setup_runtime

class Pairs(torch.utils.data.Dataset):
    def __len__(self):
        return 8
    def __getitem__(self, index):
        generator = torch.Generator().manual_seed(index)
        return {"x": torch.randn(3, generator=generator), "y": torch.tensor(float(index))}

world, runtime = World.from_env(), RuntimeParams()
device = setup_runtime(runtime, world)  # the GPU of the local rank where there are GPUs
torch.manual_seed(0)
if "--batchnorm" in sys.argv:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1)).to(device)
else:
    model = nn.Linear(3, 1).to(device)
trained = distribute(model, world, runtime, device)
params = OptimParams(optimizer="sgd", epochs=1, batch_size=8, lr=0.1, momentum=0.0, weight_decay=0.0)
loader = make_loader(Pairs(), params.batch_size, runtime, 0, device, world)
def step(batch, progress):
    error = (trained(batch["x"].to(device))[:, 0] - batch["y"].to(device)) ** 2
    if "--masked" not in sys.argv:
        return {"mse": error.mean()}
    mask = (batch["y"] < 5).float().to(device)
    count = mask.sum()
    return {"mse": (error * mask).sum() / count.clamp(min=1) * global_batch_scale(count)}
fit(trained, loader, make_optimizer(model, [], params), params, step)
if world.is_main:
    torch.save(model.cpu().state_dict(), sys.argv[1])
"""


@pytest.fixture
def script(tmp_path, monkeypatch):
    (tmp_path / "one_step.py").write_text(STEP_SCRIPT)
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{REPO}")
    return tmp_path


@pytest.mark.parametrize("model", ["linear", "batchnorm", "masked"])
def test_two_processes_take_the_same_step_as_one(script, model):
    """With BatchNorm too: its statistics (and their gradients) are those of the global batch
    on CPU processes as on GPUs, and so are the running averages it keeps. A loss that
    divides by a count that differs between the processes divides by the global count."""
    flags = {"linear": [], "batchnorm": ["--batchnorm"], "masked": ["--masked"]}[model]
    subprocess.run([sys.executable, "-m", "one_step", str(script / "one.pt"), *flags], cwd=script, check=True,
                   timeout=120)
    assert launch_local(2, "one_step", [str(script / "two.pt"), *flags])
    one, two = torch.load(script / "one.pt"), torch.load(script / "two.pt")
    assert not any(torch.equal(tensor, torch.zeros_like(tensor)) for tensor in one.values())
    assert one.keys() == two.keys()
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=1e-6, atol=1e-6)


def test_a_batch_that_does_not_split_over_the_processes_is_refused(script, capfd):
    text = (script / "one_step.py").read_text().replace("batch_size=8", "batch_size=7")
    (script / "one_step.py").write_text(text)
    assert not launch_local(2, "one_step", [str(script / "two.pt")])
    assert "optim.batch_size=7 must be divisible by the 2 processes" in capfd.readouterr().err


def test_shards_are_every_nth_item_and_cover_all():
    items = list(range(10))
    shards = [World(rank, 3).shard(items) for rank in range(3)]
    assert shards[1] == [1, 4, 7] and sorted(sum(shards, [])) == items


def test_rank_0_merges_the_parts_in_rank_order_and_removes_them(tmp_path):
    target = tmp_path / "out.txt"
    other = World(1, 2, run_id="r")
    part_path(target, other).write_text("b")  # rank 1 finished first

    def merge(parts, out):
        out.write_text("".join(p.read_text() for p in parts))

    with sharded_output(target, World(0, 2, run_id="r"), 5, merge) as part:
        part.write_text("a")
    assert target.read_text() == "ab" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_missing_part_is_an_error_after_the_timeout_not_a_hang(tmp_path):
    part_path(tmp_path / "out.txt", World(0, 2, run_id="r")).write_text("a")
    with pytest.raises(PipelineError, match=r"part1: this part of .* did not appear within runtime.timeout_s=0.3 s"):
        wait_for_parts(tmp_path / "out.txt", World(0, 2, run_id="r"), 0.3)


def test_a_failing_process_stops_the_other_and_leaves_nothing(tmp_path, tiny_builtin, tiny_trained):
    """Rank 1 meets a corrupt image; rank 0 (waiting for rank 1's part) is stopped too."""
    workdir = tiny_trained(tmp_path)
    ids = (workdir / "voc/ImageSets/Segmentation/train.txt").read_text().split()
    corrupt = workdir / "voc/JPEGImages" / f"{ids[-1]}.jpg"  # the last batch: rank 1's
    corrupt.write_bytes(corrupt.read_bytes()[:200])
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "stages.extract_cams", "--manifest", "manifest.json",
                             "--model", "classifier.pt", "--out", "cams.h5"], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=300)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1
    assert any(f"{ids[-1]}.jpg: corrupt or unreadable image" in line for line in errors), result.stderr[-2000:]
    assert errors[-1] == "error: stages.extract_cams: a process of 2 failed (its error is above); no output was written"
    assert sorted(p.name for p in workdir.iterdir()) == ["classifier.pt", "manifest.json", "params.yaml", "voc"]


@pytest.fixture
def tiny_trained(tiny_builtin):
    """A workdir with a copy of the tiny dataset, its manifest, and a classifier of one epoch; nproc 2."""
    import yaml

    from stages import prepare, train_classifier
    from tests.test_stage_errors import run

    def make(workdir: Path) -> Path:
        shutil.copytree(tiny_builtin, workdir / "voc")
        cwd = os.getcwd()
        os.chdir(workdir)
        try:
            params = {"data.root": "voc", "train_classifier.optim.epochs": 1, "convergence.doublings": 0,
                      "train_classifier.crop_size": 32, "extract_cams.batch_size": 6}
            assert run(prepare, ["--out", "manifest.json"], params, workdir).exit_code == 0
            assert run(train_classifier, ["--manifest", "manifest.json", "--model", "classifier.pt", "--metrics",
                                          "m.json", "--history", "h.csv"], params, workdir).exit_code == 0
        finally:
            os.chdir(cwd)
        (workdir / "m.json").unlink()
        (workdir / "h.csv").unlink()
        written = yaml.safe_load((workdir / "params.yaml").read_text())
        written["runtime"]["nproc"] = 2
        (workdir / "params.yaml").write_text(yaml.safe_dump(written))
        return workdir

    return make


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_each_process_takes_the_gpu_of_its_local_rank():
    from pipeline.core.runtime import RuntimeParams
    from pipeline.training.runtime import autocast, resolve_device

    world = World(rank=0, size=1, local_rank=torch.cuda.device_count() - 1)
    device = resolve_device(RuntimeParams(), world)
    assert device == torch.device("cuda", torch.cuda.device_count() - 1)
    with autocast(device, RuntimeParams()):
        assert torch.ones(2, 2, device=device).matmul(torch.ones(2, 2, device=device)).dtype == torch.bfloat16


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_loader_pins_memory():
    from pipeline.core.runtime import RuntimeParams
    from pipeline.training.loop import make_loader

    data = torch.utils.data.TensorDataset(torch.zeros(4, 3))
    loader = make_loader(data, 2, RuntimeParams(num_workers=1), 0, torch.device("cuda"))
    assert loader.pin_memory and next(iter(loader))[0].is_pinned()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_process_beyond_the_gpus_is_refused():
    from pipeline.core.runtime import RuntimeParams
    from pipeline.training.runtime import resolve_device

    world = World(rank=0, size=1, local_rank=torch.cuda.device_count())
    with pytest.raises(PipelineError, match="runtime.nproc"):
        resolve_device(RuntimeParams(device="cuda"), world)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("method", ["cam", "gradcam"])
def test_gpu_maps_match_cpu_maps(method):
    """Multi-scale, flipped class maps computed on the GPU (fp32, no TF32) equal the CPU's."""
    from pipeline.cams.gradients import max_normalise
    from pipeline.cams.registry import MAP_METHODS
    from pipeline.models.classifier import Classifier
    from pipeline.models.multiscale import multiscale_sum

    torch.manual_seed(0)
    model = Classifier("resnet18", 3).eval()
    images = torch.rand(2, 3, 48, 64)
    maps = {}
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        for device in ("cpu", "cuda"):
            model.to(device)
            maps[device] = max_normalise(multiscale_sum(lambda x: MAP_METHODS[method](model, x, [0, 2]).float(),
                                                        images.to(device), [1.0, 1.5], True)).cpu()
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    assert maps["cpu"].shape == (2, 2, 48, 64)
    torch.testing.assert_close(maps["cuda"], maps["cpu"], atol=1e-4, rtol=1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_two_gpus_take_the_same_step_as_one(script):
    for model in ("linear", "batchnorm", "masked"):
        test_two_processes_take_the_same_step_as_one(script, model)  # NCCL, one GPU each


def _children(pid: int) -> set[int]:
    children = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        children |= {int(c) for c in text.split()}
    return children


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads process trees from /proc")
def test_processes_of_a_killed_stage_exit_with_it(tmp_path, tiny_trained):
    import time

    workdir = tiny_trained(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    launcher = subprocess.Popen([sys.executable, "-m", "stages.extract_cams", "--manifest", "manifest.json",
                                 "--model", "classifier.pt", "--out", "cams.h5"], cwd=workdir, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(ranks := _children(launcher.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(ranks) >= 2, "torchrun's agent never started two processes"
    assert_children_exit_with(launcher, ranks, 60)  # a wait, not a speed claim: a loaded machine is slow to reap
