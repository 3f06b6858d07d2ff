"""helpers.tensorboard: what the callback writes is read back from the event files and compared with fit's history."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.tensorboard import SummaryWriter

import helpers.tensorboard as htb
from helpers.engine import fit
from helpers.tensorboard import SCALAR_TAGS, STEP_TAGS, TensorBoardCallback, read_histogram_steps, read_scalars


class Losses:
    """Records every batch's loss, to compare with what the callback logged."""

    def __init__(self):
        self.by_step = {}

    def on_batch_end(self, step, loss, n, lr):
        self.by_step[step] = (loss.item(), n, lr)


def run(tmp_path, epochs=3, histograms_every=0, history=None, name="run", every=0, extra=(), one_cycle=False):
    torch.manual_seed(0)
    x, y = torch.randn(60, 5), torch.randint(0, 3, (60,))      # batches of 16, 16, 16 and 12
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, 0.5, total_steps=4 * epochs) if one_cycle else None
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    with SummaryWriter(tmp_path / name) as writer:
        history = fit(model, loader, loader, nn.CrossEntropyLoss(), optimizer, "cpu", epochs, history=history,
                      scheduler=scheduler, scheduler_step="batch",
                      callbacks=[TensorBoardCallback(writer, histograms_every=histograms_every,
                                                     log_every_n_steps=every), *extra], progress=False,
                      verbose=False)
    return history, model


def test_scalars_read_back_equal_the_history(tmp_path):
    history, _ = run(tmp_path)
    scalars = read_scalars(tmp_path / "run")
    assert set(scalars) == set(SCALAR_TAGS.values())
    for key, tag in SCALAR_TAGS.items():
        assert [step for step, _ in scalars[tag]] == history["epoch"] == [1, 2, 3]
        assert [value for _, value in scalars[tag]] == pytest.approx(history[key], rel=1e-6)  # stored as float32


def test_histograms_only_every_n_epochs_with_gradients(tmp_path):
    _, model = run(tmp_path, epochs=5, histograms_every=2)
    steps = read_histogram_steps(tmp_path / "run")
    names = [name for name, _ in model.named_parameters()]
    assert set(steps) == {f"{kind}/{name}" for kind in ("weights", "grads") for name in names}
    assert all(s == [2, 4] for s in steps.values())


def test_no_histograms_by_default(tmp_path):
    run(tmp_path)
    assert read_histogram_steps(tmp_path / "run") == {}


def test_a_resumed_run_continues_the_steps(tmp_path):
    history, _ = run(tmp_path, epochs=2)
    run(tmp_path, epochs=4, history=history)
    steps = [step for step, _ in read_scalars(tmp_path / "run")["loss/val"]]
    assert steps == [1, 2, 3, 4]


def test_every_n_steps_the_mean_loss_of_those_batches_and_the_rate(tmp_path):
    losses = Losses()
    run(tmp_path, epochs=3, every=3, extra=[losses], one_cycle=True)    # 4 steps per epoch: 12 steps
    scalars = read_scalars(tmp_path / "run")
    assert set(scalars) == set(SCALAR_TAGS.values()) | set(STEP_TAGS)
    loss_tag, lr_tag = STEP_TAGS
    assert [step for step, _ in scalars[loss_tag]] == [3, 6, 9, 12]
    for step, value in scalars[loss_tag]:
        window = [losses.by_step[s] for s in range(step - 2, step + 1)]     # (loss per sample, n, lr)
        per_sample = sum(loss * n for loss, n, _ in window) / sum(n for _, n, _ in window)   # the 12-batch counts less
        assert value == pytest.approx(per_sample, rel=1e-6)
    # OneCycleLR changes the rate every step: each logged rate is the one its step used
    assert scalars[lr_tag] == [(s, pytest.approx(losses.by_step[s][2])) for s in (3, 6, 9, 12)]
    assert len({value for _, value in scalars[lr_tag]}) == 4


def test_step_logging_continues_the_count_when_resuming(tmp_path):
    history, _ = run(tmp_path, epochs=1, every=2)
    run(tmp_path, epochs=2, history=history, every=2)
    assert [step for step, _ in read_scalars(tmp_path / "run")[STEP_TAGS[0]]] == [2, 4, 6, 8]


def test_only_the_main_process_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(htb, "is_main_process", lambda: False)
    run(tmp_path, histograms_every=1, every=1)
    assert read_scalars(tmp_path / "run") == {}


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(TypeError, match="SummaryWriter"):
        TensorBoardCallback(str(tmp_path))  # type: ignore[arg-type]
    with SummaryWriter(tmp_path) as writer:
        for bad in (-1, 1.5, True):
            with pytest.raises(ValueError, match="histograms_every"):
                TensorBoardCallback(writer, histograms_every=bad)  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="log_every_n_steps"):
                TensorBoardCallback(writer, log_every_n_steps=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("read", [read_scalars, read_histogram_steps])
def test_reading_a_folder_without_events_says_so(tmp_path, read):
    with pytest.raises(FileNotFoundError, match="no TensorBoard event file"):
        read(tmp_path)
