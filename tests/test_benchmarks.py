"""The benchmarks measure what they claim: the two things each one times do the same work, and the
ratio it prints is the ratio of the medians it prints.

The scripts are imported as modules and run on small inputs (their timings are not asserted; a
shared CPU makes them noisy); a run of each script itself, as a reader would run it, is marked slow.
"""

from __future__ import annotations

import importlib.util
import re
import statistics
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset
from torchvision import transforms as v1
from torchvision.transforms import v2

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str) -> ModuleType:
    """Import benchmarks/<name>.py (a folder of scripts, not a package) as a fresh module."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", ROOT / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeClock:
    """Stands in for the `time` module: time passes only when a fake run says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


# --- engine_overhead.py: the hand-written loop against helpers.engine.fit ----------------------------

@pytest.fixture(scope="module")
def engine_overhead() -> ModuleType:
    return load_script("engine_overhead")


@pytest.fixture(scope="module")
def tiny_cifar(engine_overhead):
    """300 training and 200 validation images: three training batches of 128 (the last one smaller)."""
    train_x, train_y, _ = engine_overhead.cifar10_mini_tensors("train")
    val_x, val_y, _ = engine_overhead.cifar10_mini_tensors("val")
    train, val = TensorDataset(train_x[:300], train_y[:300]), TensorDataset(val_x[:200], val_y[:200])
    images = train_x[:300].float() / 255
    return train, val, images.mean(dim=(0, 2, 3)).tolist(), images.std(dim=(0, 2, 3)).tolist()


def test_hand_loop_and_fit_compute_the_same_weights_and_metrics(engine_overhead, tiny_cifar):
    train, val, mean, std = tiny_cifar
    results, forward_calls = {}, {}
    for name, run in (("hand", engine_overhead.by_hand), ("fit", engine_overhead.with_fit)):
        parts = engine_overhead.setup(train, val, mean, std)
        forward_calls[name] = calls = []
        parts[0].register_forward_hook(lambda m, args, out, calls=calls: calls.append(
            (m.training, torch.is_grad_enabled(), len(args[0]))))
        results[name] = run(*parts, nn.CrossEntropyLoss(), torch.device("cpu"))
    # The same forward passes: 3 training batches with gradients, then 1 evaluation batch without.
    assert forward_calls["hand"] == forward_calls["fit"] == [(True, True, 128), (True, True, 128), (True, True, 44),
                                                             (False, False, 200)]
    (hand_weights, hand_metrics), (fit_weights, fit_metrics) = results["hand"], results["fit"]
    assert hand_metrics == fit_metrics
    assert set(hand_metrics) == {"train_loss", "train_acc", "val_loss", "val_acc"}
    assert hand_weights.keys() == fit_weights.keys()
    assert all(torch.equal(hand_weights[k], fit_weights[k]) for k in hand_weights)
    # Metrics weighted by batch size: accuracies are whole numbers of images out of 300 and 200.
    assert round(hand_metrics["train_acc"] * 300, 6).is_integer()
    assert round(hand_metrics["val_acc"] * 200, 6).is_integer()
    # ...and the script's own check agrees, and notices a difference.
    assert engine_overhead.same_result(results["hand"], results["fit"])
    changed = {k: v.clone() for k, v in fit_weights.items()}
    next(v for v in changed.values() if v.is_floating_point()).view(-1)[0] += 1e-6
    assert not engine_overhead.same_result(results["hand"], (changed, fit_metrics))
    assert not engine_overhead.same_result(results["hand"], (fit_weights, {**fit_metrics, "val_acc": -1.0}))


def fake_runs(clock: FakeClock, durations: dict[str, list[float]], result=None):
    """Stand-ins for by_hand / with_fit that take the given times (warm-up first) and return ``result``."""
    def make(name):
        times = iter(durations[name])

        def run(*args):
            clock.now += next(times)
            return result if result is not None else ({"w": torch.zeros(1)}, {"val_acc": float(name == "fit")})
        return run
    return make("hand"), make("fit")


def test_engine_overhead_times_rounds_after_the_warm_up(engine_overhead, tiny_cifar, monkeypatch):
    train, val, _, _ = tiny_cifar
    clock = FakeClock()
    same = ({"w": torch.zeros(1)}, {"val_acc": 0.5})
    hand, fitted = fake_runs(clock, {"hand": [9.0, 4.0, 2.0, 3.0], "fit": [8.0, 6.0, 5.0, 1.0]}, same)
    monkeypatch.setattr(engine_overhead, "time", clock)
    monkeypatch.setattr(engine_overhead, "by_hand", hand)
    monkeypatch.setattr(engine_overhead, "with_fit", fitted)
    times = engine_overhead.compare(train, val, 3, torch.device("cpu"))
    assert times == {"hand": [4.0, 2.0, 3.0], "fit": [6.0, 5.0, 1.0]}


def test_engine_overhead_refuses_to_time_two_different_computations(engine_overhead, tiny_cifar, monkeypatch):
    train, val, _, _ = tiny_cifar
    hand, fitted = fake_runs(FakeClock(), {"hand": [1.0] * 4, "fit": [1.0] * 4})  # different metrics
    monkeypatch.setattr(engine_overhead, "by_hand", hand)
    monkeypatch.setattr(engine_overhead, "with_fit", fitted)
    with pytest.raises(AssertionError, match="different"):
        engine_overhead.compare(train, val, 1, torch.device("cpu"))


def test_engine_overhead_prints_the_ratio_of_the_medians(engine_overhead, tiny_cifar, monkeypatch, capsys):
    # Medians 3.0 (hand) and 5.0 (fit): 1.667x. The means would give 1.333x.
    monkeypatch.setattr(engine_overhead, "compare", lambda *args: {"hand": [4.0, 2.0, 3.0], "fit": [6.0, 5.0, 1.0]})
    tiny = torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(2, dtype=torch.long), []
    monkeypatch.setattr(engine_overhead, "cifar10_mini_tensors", lambda split: tiny)
    monkeypatch.setattr(sys, "argv", ["engine_overhead.py", "--reps", "3"])
    engine_overhead.main()
    lines = capsys.readouterr().out.strip().splitlines()
    assert "hand: median 3.00 s  (runs: 4.00, 2.00, 3.00)" in lines
    assert "fit: median 5.00 s  (runs: 6.00, 5.00, 1.00)" in lines
    assert lines[-1] == "fit / hand = 1.667x"


# --- input_pipeline.py: a naive and a tuned pipeline over the same photos --------------------------

@pytest.fixture(scope="module")
def input_pipeline() -> ModuleType:
    return load_script("input_pipeline")


def the_one(transforms: list, kind: type):
    found = [t for t in transforms if isinstance(t, kind)]
    assert len(found) == 1, f"expected one {kind.__name__} in {transforms}"
    return found[0]


def without_randomness(compose, lib):
    """The same pipeline with its random crop replaced by a resize to the same size and its flip left out."""
    steps = []
    for t in compose.transforms:
        if isinstance(t, lib.RandomResizedCrop):
            steps.append(lib.Resize(tuple(t.size), interpolation=t.interpolation, antialias=True))
        elif not isinstance(t, lib.RandomHorizontalFlip):
            steps.append(t)
    return lib.Compose(steps)


def test_naive_and_tuned_pipelines_make_the_same_batches_of_the_same_images(input_pipeline):
    naive, tuned = input_pipeline.naive_loader(), input_pipeline.tuned_loader(num_workers=0)
    # The same photos with the same labels, in the same batch size, shuffled, nothing dropped.
    naive_samples = [(Path(p), y) for part in naive.dataset.datasets for p, y in part.samples]
    assert naive_samples == [(Path(p), y) for p, y in tuned.dataset.samples]
    assert len(naive_samples) == 397
    assert naive.batch_size == tuned.batch_size == input_pipeline.BATCH_SIZE and not naive.drop_last | tuned.drop_last
    assert type(naive.sampler) is type(tuned.sampler) is torch.utils.data.RandomSampler

    # The same random augmentation, each in its own library.
    naive_tf = naive.dataset.datasets[0].transform
    assert all(part.transform is naive_tf for part in naive.dataset.datasets)
    tuned_tf = tuned.dataset.transform
    crops = the_one(naive_tf.transforms, v1.RandomResizedCrop), the_one(tuned_tf.transforms, v2.RandomResizedCrop)
    assert [tuple(c.size) for c in crops] == [(224, 224)] * 2
    assert crops[0].scale == pytest.approx(crops[1].scale) and crops[0].ratio == pytest.approx(crops[1].ratio)
    assert v2.InterpolationMode(crops[0].interpolation) == v2.InterpolationMode(crops[1].interpolation)
    flips = the_one(naive_tf.transforms, v1.RandomHorizontalFlip), the_one(tuned_tf.transforms, v2.RandomHorizontalFlip)
    assert flips[0].p == flips[1].p

    # With the randomness taken out, the same pixels: decoding (PIL vs TorchCodec), scaling to [0, 1]
    # and Normalize agree to within one or two levels of 255 (resizing in PIL vs in torch).
    naive_fixed, tuned_fixed = without_randomness(naive_tf, v1), without_randomness(tuned_tf, v2)
    one_level = 1 / 255 / min(input_pipeline.STD)
    for index in range(0, 397, 44):  # ants and bees, train and val
        path, label = tuned.dataset.samples[index]
        a = naive_fixed(input_pipeline.load_rgb(path))
        b = tuned_fixed(_decode(tuned.dataset, index))
        assert a.shape == b.shape == (3, 224, 224) and a.dtype == b.dtype == torch.float32
        difference = (a - b).abs()
        assert difference.max() <= 3 * one_level and difference.mean() <= 0.05 * one_level, path


def _decode(dataset, index: int) -> torch.Tensor:
    """The tuned dataset's uint8 image before its transform."""
    transform, dataset.transform = dataset.transform, None
    try:
        return dataset[index][0]
    finally:
        dataset.transform = transform


def test_epoch_rate_counts_images_not_batches(input_pipeline, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(input_pipeline, "time", clock)

    def loader():
        for size in (32, 32, 5):
            clock.now += 0.5
            yield torch.zeros(size, 3, 224, 224), torch.zeros(size, dtype=torch.long)
    assert input_pipeline.epoch_rate(loader()) == pytest.approx(69 / 1.5)


def test_input_pipeline_alternates_and_leaves_out_the_warm_up(input_pipeline, monkeypatch):
    seen, rates = [], iter(range(1, 7))
    monkeypatch.setattr(input_pipeline, "naive_loader", lambda: "naive")
    monkeypatch.setattr(input_pipeline, "tuned_loader", lambda: "tuned")
    monkeypatch.setattr(input_pipeline, "epoch_rate", lambda loader: seen.append(loader) or float(next(rates)))
    assert input_pipeline.compare(2) == {"naive": [3.0, 5.0], "tuned": [4.0, 6.0]}
    assert seen == ["naive", "tuned"] * 3


def test_input_pipeline_prints_the_ratio_of_the_medians(input_pipeline, monkeypatch, capsys):
    # Medians 110 (naive) and 250 (tuned): 2.27x. The means would give 2.08x.
    monkeypatch.setattr(input_pipeline, "compare", lambda reps: {"naive": [100.0, 150.0, 110.0],
                                                                 "tuned": [300.0, 200.0, 250.0]})
    monkeypatch.setattr(sys, "argv", ["input_pipeline.py", "--reps", "3"])
    input_pipeline.main()
    lines = capsys.readouterr().out.strip().splitlines()
    assert "naive: median 110 images/s  (epochs: 100, 150, 110)" in lines
    assert lines[-1] == "tuned / naive = 2.27x"


# --- the scripts as a reader runs them --------------------------------------------------------------

def consistent(line_median: float, runs: list[float], half_unit: float) -> bool:
    """The printed median is the median of the printed runs, up to their rounding."""
    return abs(statistics.median(runs) - line_median) <= half_unit + 1e-9


@pytest.mark.slow
@pytest.mark.parametrize("script, pattern, ratio_line, digits", [
    ("input_pipeline", r"^(naive|tuned): median (\d+) images/s  \(epochs: ([\d, ]+)\)$",
     r"^tuned / naive = (\d+\.\d\d)x$", 0),
    ("engine_overhead", r"^(hand|fit): median (\d+\.\d\d) s  \(runs: ([\d., ]+)\)$",
     r"^fit / hand = (\d+\.\d{3})x$", 2),
], ids=["input_pipeline", "engine_overhead"])
def test_script_prints_a_ratio_that_matches_its_medians(script, pattern, ratio_line, digits):
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{script}.py"), "--reps", "1"],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    medians = {}
    for line in lines:
        if m := re.match(pattern, line):
            medians[m.group(1)] = float(m.group(2))
            assert consistent(float(m.group(2)), [float(v) for v in m.group(3).split(", ")], 0.5 * 10**-digits), line
    assert len(medians) == 2, result.stdout
    ratio = re.match(ratio_line, lines[-1])
    assert ratio, f"the last line is not the ratio: {lines[-1]!r}"
    # What the printed medians allow, given their rounding, and the ratio's own rounding.
    numerator, denominator = (medians["tuned"], medians["naive"]) if "tuned" in medians else (medians["fit"],
                                                                                                medians["hand"])
    half = 0.5 * 10**-digits
    low, high = (numerator - half) / (denominator + half), (numerator + half) / (denominator - half)
    ratio_half = 0.5 * 10 ** -len(ratio.group(1).split(".")[1])
    assert low - ratio_half <= float(ratio.group(1)) <= high + ratio_half, (lines[-1], medians)


# --- checkpoint_load.py: torch.load plain, with mmap, and safetensors ------------------------------

@pytest.fixture(scope="module")
def checkpoint_load() -> ModuleType:
    return load_script("checkpoint_load")


def test_checkpoint_load_times_every_method_after_checking_it_loads_the_same(checkpoint_load, tmp_path):
    state = checkpoint_load.make_state_dict("mobilenet_v3_small")
    assert any(k.endswith("num_batches_tracked") for k in state)            # buffers too, not only parameters
    times = checkpoint_load.compare(state, tmp_path, 2)
    assert list(times) == ["plain", "mmap", "plain+touch", "mmap+touch", "safetensors", "safetensors+touch"]
    assert all(len(v) == 2 and min(v) > 0 for v in times.values())
    loads = checkpoint_load.methods(tmp_path / "weights.pt", tmp_path / "weights.safetensors")
    maps = Path("/proc/self/maps")
    if maps.exists():                                                   # Linux: is the file mapped, or copied?
        plain = loads["plain"]()
        assert str(tmp_path / "weights.pt") not in maps.read_text()
        mapped = loads["mmap"]()
        assert str(tmp_path / "weights.pt") in maps.read_text()
        del plain, mapped


def test_checkpoint_load_refuses_a_method_that_loads_something_else(checkpoint_load, tmp_path, monkeypatch):
    state = {"w": torch.ones(3)}
    real = checkpoint_load.methods
    monkeypatch.setattr(checkpoint_load, "methods",
                        lambda pt, st: {**real(pt, st), "mmap": lambda: {"w": torch.zeros(3)}})
    with pytest.raises(AssertionError, match="mmap loaded something different"):
        checkpoint_load.compare(state, tmp_path, 1)
    assert not checkpoint_load.same({"w": torch.ones(3)}, {"w": torch.ones(3), "b": torch.ones(1)})


def test_checkpoint_load_prints_plain_over_mmap_last(checkpoint_load, monkeypatch, capsys):
    times = {"plain": [90.0, 60.0, 70.0], "mmap": [10.0, 40.0, 20.0]}                 # medians 70 and 20: 3.5x
    monkeypatch.setattr(checkpoint_load, "compare", lambda state, folder, reps: times)
    monkeypatch.setattr(checkpoint_load, "make_state_dict", lambda name: {"w": torch.zeros(250_000)})
    monkeypatch.setattr(sys, "argv", ["checkpoint_load.py", "--reps", "3"])
    checkpoint_load.main()
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("resnet50: 1 tensors, 1 MB;")
    assert "plain: median 70.0 ms  (runs: 90.0, 60.0, 70.0)" in lines
    assert lines[-1] == "plain / mmap = 3.5x"


@pytest.mark.slow
def test_checkpoint_load_script_runs_as_a_reader_would():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "checkpoint_load.py"), "--reps", "2",
                             "--model", "resnet18"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    medians = {m.group(1): float(m.group(2)) for line in lines
               if (m := re.match(r"^([a-z+]+): median (\d+\.\d) ms  \(runs: [\d., ]+\)$", line))}
    assert len(medians) == 6, result.stdout
    ratio = re.match(r"^plain / mmap = (\d+\.\d)x$", lines[-1])
    assert ratio, lines[-1]
    plain, mmap = medians["plain"], medians["mmap"]
    low, high = (plain - 0.05) / (mmap + 0.05), (plain + 0.05) / (mmap - 0.05)
    assert low - 0.05 <= float(ratio.group(1)) <= high + 0.05
