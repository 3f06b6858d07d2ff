"""helpers.checkpoint against plain torch.save / torch.load."""

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from helpers.callbacks import CheckpointCallback
from helpers.checkpoint import (
    copy_atomically,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    unwrap_model,
)
from helpers.engine import fit
from helpers.files import DataError


def setup(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    return model, optimizer, scheduler


def loaders():
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(64, 4, generator=g), torch.randint(0, 3, (64,), generator=g))
    return DataLoader(data, batch_size=16, shuffle=True), DataLoader(data, batch_size=32)


def straight_run(epochs):
    """The reference: ``epochs`` epochs of fit without a break. Returns the history and the weights."""
    train, val = loaders()
    torch.manual_seed(123)
    model, optimizer, scheduler = setup()
    history = fit(model, train, val, nn.CrossEntropyLoss(), optimizer, "cpu", epochs, scheduler=scheduler,
                  progress=False, verbose=False)
    return history, model.state_dict()


def test_resume_through_fit_is_bit_identical(tmp_path):
    straight, expected = straight_run(4)
    train, val = loaders()
    torch.manual_seed(123)
    model, optimizer, scheduler = setup()
    history = fit(model, train, val, nn.CrossEntropyLoss(), optimizer, "cpu", 2, scheduler=scheduler,
                  progress=False, verbose=False)
    save_checkpoint(tmp_path / "last.pt", model, optimizer, scheduler, epoch=2, history=history)
    torch.rand(5)                                                   # the run goes on drawing numbers...
    model, optimizer, scheduler = setup(seed=9)                     # ...and a fresh process builds new objects
    ckpt = load_checkpoint(tmp_path / "last.pt", model, optimizer, scheduler)
    resumed = fit(model, train, val, nn.CrossEntropyLoss(), optimizer, "cpu", 4, scheduler=scheduler,
                  history=ckpt["history"], progress=False, verbose=False)
    assert resumed == straight
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_checkpoint_loads_with_plain_weights_only(tmp_path):
    model, optimizer, scheduler = setup()
    save_checkpoint(tmp_path / "c.pt", model, optimizer, scheduler, epoch=3, config={"lr": 0.1})
    raw = torch.load(tmp_path / "c.pt", weights_only=True)
    assert raw["epoch"] == 3 and raw["config"] == {"lr": 0.1} and "num_batches_tracked" in "".join(raw["model"])


def test_rng_state_restores_the_next_numbers():
    state = rng_state()
    first = (random.random(), np.random.rand(), torch.rand(2))
    set_rng_state(state)
    again = (random.random(), np.random.rand(), torch.rand(2))
    assert first[:2] == again[:2] and torch.equal(first[2], again[2])


def test_wrapper_prefixes_are_not_written(tmp_path):
    model, _, _ = setup()
    save_checkpoint(tmp_path / "dp.pt", nn.DataParallel(model))
    assert all(not k.startswith("module.") for k in torch.load(tmp_path / "dp.pt", weights_only=True)["model"])
    load_checkpoint(tmp_path / "dp.pt", nn.DataParallel(setup(seed=1)[0]))


@pytest.mark.parametrize("content,match", [
    (None, "checkpoint not found"),
    (b"", "cannot read"),
    (b"PK\x03\x04 truncated zip", "cannot read"),
])
def test_bad_files_are_named(tmp_path, content, match):
    path = tmp_path / "bad.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=match):
        load_checkpoint(path, setup()[0])


def test_not_a_checkpoint_and_another_architecture(tmp_path):
    model, _, _ = setup()
    torch.save(model.state_dict(), tmp_path / "bare.pt")
    with pytest.raises(DataError, match="a bare state_dict, not a checkpoint"):
        load_checkpoint(tmp_path / "bare.pt", model)
    save_checkpoint(tmp_path / "c.pt", model)
    other = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    with pytest.raises(DataError, match=r"another architecture.*shapes differ: 0.weight: checkpoint \(8, 4\)"):
        load_checkpoint(tmp_path / "c.pt", other)


def test_optimizer_of_another_parameter_layout(tmp_path):
    model, optimizer, _ = setup()
    model(torch.randn(4, 4)).sum().backward()
    optimizer.step()                                            # momentum buffers exist now
    save_checkpoint(tmp_path / "c.pt", model, optimizer)
    model2, _, _ = setup()
    wrong = torch.optim.SGD(list(model2.parameters())[:2], lr=0.1, momentum=0.9)
    with pytest.raises(DataError, match="optimizer state does not fit"):
        load_checkpoint(tmp_path / "c.pt", model2, wrong)


def test_crafted_pickle_is_refused(tmp_path, capfd):
    class Evil:
        def __reduce__(self):
            return (print, ("this ran while loading",))

    torch.save({"format": "helpers.checkpoint/1", "model": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(DataError, match="Python objects that weights_only=True refuses"):
        load_checkpoint(tmp_path / "evil.pt", setup()[0])
    assert "this ran while loading" not in capfd.readouterr().out      # refused before anything ran


SLOW_WRITER = """
import sys, time, torch
from torch import nn
import helpers.checkpoint as ck
real_save = torch.save
def slow_save(obj, f):
    f.write(b"PK partial")
    f.flush()
    print("writing", flush=True)
    time.sleep(30)                      # killed here, mid-write
    real_save(obj, f)
ck.torch.save = slow_save
ck.save_checkpoint(sys.argv[1], nn.Linear(2, 2))
"""


def test_a_kill_during_save_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, nn.Linear(2, 2), epoch=1)
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(0.1)
    assert load_checkpoint(path, nn.Linear(2, 2))["epoch"] == 1        # the previous file is whole
    assert sorted(p.name for p in tmp_path.iterdir()) == [".last.pt.tmp", "last.pt"]     # the killed write
    save_checkpoint(path, nn.Linear(2, 2), epoch=2)                       # overwrites the stray temporary file
    assert load_checkpoint(path, nn.Linear(2, 2))["epoch"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_callback_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    straight, expected = straight_run(5)
    train, val = loaders()
    torch.manual_seed(123)
    model, optimizer, scheduler = setup()
    saver = CheckpointCallback(tmp_path, optimizer, scheduler, keep_last=0)
    fit(model, train, val, nn.CrossEntropyLoss(), optimizer, "cpu", 2, scheduler=scheduler, callbacks=[saver],
        progress=False, verbose=False)
    torch.rand(3)
    model, optimizer, scheduler = setup(seed=5)
    ckpt = load_checkpoint(tmp_path / "last.pt", model, optimizer, scheduler)
    assert ckpt["epoch"] == 2
    saver = CheckpointCallback(tmp_path, optimizer, scheduler, keep_last=0, history=ckpt["history"])
    resumed = fit(model, train, val, nn.CrossEntropyLoss(), optimizer, "cpu", 5, scheduler=scheduler,
                  history=ckpt["history"], callbacks=[saver], progress=False, verbose=False)
    assert resumed == straight
    assert all(torch.equal(v, expected[k]) for k, v in model.state_dict().items())
    final = torch.load(tmp_path / "last.pt", weights_only=True)
    assert final["epoch"] == 5 and final["history"] == straight      # the file holds the whole run


def fake_fit(saver, model, values, monitor="val_loss"):
    """Drive the callback as fit does, with chosen metrics and a model whose weight records the epoch."""
    for epoch, value in enumerate(values, start=1):
        with torch.no_grad():
            model.weight.fill_(epoch)
        row = {"epoch": epoch, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.0, "val_acc": 0.5, "lr": 0.1}
        row[monitor] = value
        saver.on_epoch_end(epoch, row, model)


def saved_epoch(path):
    return int(torch.load(path, weights_only=True)["model"]["weight"][0, 0])


def test_callback_keeps_last_best_and_n_recent(tmp_path):
    saver = CheckpointCallback(tmp_path, monitor="val_acc", keep_last=2, config={"lr": 0.1})
    fake_fit(saver, nn.Linear(2, 2), [0.3, 0.6, 0.5, 0.4, 0.55], monitor="val_acc")
    assert saver.saved == ["best.pt", "epoch-004.pt", "epoch-005.pt", "last.pt"]
    assert saver.best_epoch == 2 and saved_epoch(tmp_path / "best.pt") == 2
    assert saved_epoch(tmp_path / "last.pt") == 5 and saved_epoch(tmp_path / "epoch-004.pt") == 4
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    assert last["history"]["best_epoch"] == 2 and last["config"] == {"lr": 0.1}
    assert not list(tmp_path.glob(".*"))                                  # no temporary files left


def test_callback_prunes_by_epoch_number_and_resumes_its_best(tmp_path):
    earlier = {"epoch": list(range(1, 998)), "train_loss": [1.0] * 997, "train_acc": [0.0] * 997,
               "val_loss": [2.0] * 997, "val_acc": [0.0] * 997, "lr": [0.1] * 997}
    saver = CheckpointCallback(tmp_path, keep_last=2, history=earlier)
    model = nn.Linear(2, 2)
    for epoch, loss in [(998, 1.0), (999, 0.5), (1000, 0.9)]:                # "epoch-1000" sorts first as text
        saver.on_epoch_end(epoch, {"epoch": epoch, "train_loss": 1, "train_acc": 0, "val_loss": loss,
                                   "val_acc": 0, "lr": 0.1}, model)
    assert saver.saved == ["best.pt", "epoch-1000.pt", "epoch-999.pt", "last.pt"]
    history = torch.load(tmp_path / "last.pt", weights_only=True)["history"]
    resumed = CheckpointCallback(tmp_path, keep_last=2, history=history)
    assert (resumed.best, resumed.best_epoch) == (0.5, 999)
    with torch.no_grad():
        model.weight.fill_(7)
    resumed.on_epoch_end(1001, {"epoch": 1001, "train_loss": 1, "train_acc": 0, "val_loss": 0.7, "val_acc": 0,
                                "lr": 0.1}, model)
    assert torch.load(tmp_path / "best.pt", weights_only=True)["epoch"] == 999   # a worse epoch does not replace it
    assert saved_epoch(tmp_path / "last.pt") == 7


def test_a_failed_save_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    save_checkpoint(tmp_path / "last.pt", nn.Linear(2, 2), epoch=1)

    def fails_halfway(obj, f):
        f.write(b"PK half a checkpoint")
        raise OSError("No space left on device")

    monkeypatch.setattr("helpers.checkpoint.torch.save", fails_halfway)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(tmp_path / "last.pt", nn.Linear(2, 2), epoch=2)
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "last.pt", nn.Linear(2, 2))["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


@pytest.mark.parametrize("kwargs,match", [({"monitor": "acc"}, "monitor must be one of"),
                                          ({"keep_last": -1}, "keep_last must be an int >= 0")])
def test_callback_refuses_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        CheckpointCallback(tmp_path, **kwargs)


@pytest.mark.parametrize("links", [True, False], ids=["hard link", "no hard links"])
def test_copy_atomically(tmp_path, monkeypatch, links):
    if not links:
        def no_link(*args):
            raise OSError("hard links not supported")
        monkeypatch.setattr("helpers.checkpoint.os.link", no_link)
    (tmp_path / "a").write_bytes(b"new")
    (tmp_path / "b").write_bytes(b"old")
    (tmp_path / ".b.tmp").write_bytes(b"left by a killed copy")
    copy_atomically(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
    same_file = (tmp_path / "a").stat().st_ino == (tmp_path / "b").stat().st_ino
    assert same_file == links                          # a hard link where possible, else a copy of the bytes


def test_callback_resumed_early_drops_the_abandoned_runs_later_epochs(tmp_path):
    saver = CheckpointCallback(tmp_path, keep_last=2)
    fake_fit(saver, nn.Linear(2, 2), [1.0, 0.9, 0.8, 0.7, 0.6])
    history = torch.load(tmp_path / "epoch-004.pt", weights_only=True)["history"]   # go back to epoch 4...
    history = {k: v[:2] if isinstance(v, list) else v for k, v in history.items()}  # ...or rather 2
    resumed = CheckpointCallback(tmp_path, keep_last=2, history=history)
    resumed.on_epoch_end(3, {"epoch": 3, "train_loss": 1, "train_acc": 0, "val_loss": 0.95, "val_acc": 0,
                             "lr": 0.1}, nn.Linear(2, 2))
    assert resumed.saved == ["best.pt", "epoch-003.pt", "last.pt"]          # 4 and 5 were another run's
    (tmp_path / "epoch-best.pt").write_bytes(b"a file of the user's")          # not one of ours: left alone
    resumed.on_epoch_end(4, {"epoch": 4, "train_loss": 1, "train_acc": 0, "val_loss": 0.95, "val_acc": 0,
                             "lr": 0.1}, nn.Linear(2, 2))
    assert resumed.saved == ["best.pt", "epoch-003.pt", "epoch-004.pt", "epoch-best.pt", "last.pt"]


def test_callback_resumed_without_its_history_says_so(tmp_path):
    saver = CheckpointCallback(tmp_path)
    with pytest.raises(ValueError, match=r"pass the loaded history to it too"):
        saver.on_epoch_end(3, {"epoch": 3, "train_loss": 1, "train_acc": 0, "val_loss": 1, "val_acc": 0,
                               "lr": 0.1}, nn.Linear(2, 2))


def test_a_checkpoint_tagged_cuda_loads_on_a_cpu(tmp_path):
    pretend = [False]
    torch.serialization.register_package(0, lambda s: "cuda:0" if pretend[0] and s.device.type == "cpu" else None,
                                         lambda storage, location: None)
    model, optimizer, _ = setup()
    pretend[0] = True
    save_checkpoint(tmp_path / "gpu.pt", model, optimizer, epoch=1)
    pretend[0] = False
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="map_location"):
            torch.load(tmp_path / "gpu.pt", weights_only=True)
    loaded = load_checkpoint(tmp_path / "gpu.pt", setup(seed=1)[0], setup(seed=1)[1])     # map_location="cpu"
    assert loaded["epoch"] == 1 and loaded["model"]["0.weight"].device.type == "cpu"


def test_compile_prefix_is_not_written_and_a_child_named_module_is_kept(tmp_path):
    model, _, _ = setup()
    save_checkpoint(tmp_path / "c.pt", torch.compile(model))
    keys = list(torch.load(tmp_path / "c.pt", weights_only=True)["model"])
    assert keys == list(model.state_dict())

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.module, self.head = nn.Linear(2, 2), nn.Linear(2, 1)

    net = Net()
    assert unwrap_model(net) is net and unwrap_model(nn.DataParallel(torch.compile(net))) is net


def test_an_optimizer_over_reordered_parameters_is_refused_before_anything_loads(tmp_path):
    model, optimizer, _ = setup()
    model(torch.randn(4, 4)).sum().backward()
    optimizer.step()
    save_checkpoint(tmp_path / "c.pt", model, optimizer)
    fresh = setup(seed=1)[0]
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    reordered = torch.optim.SGD(list(fresh.parameters())[::-1], lr=0.1, momentum=0.9)
    message = r"'momentum_buffer' of parameter 0 has shape \(8, 4\), the parameter \(3,\).*Nothing was loaded"
    with pytest.raises(DataError, match=message):
        load_checkpoint(tmp_path / "c.pt", fresh, reordered)
    assert all(torch.equal(v, before[k]) for k, v in fresh.state_dict().items())


@pytest.mark.parametrize("config,where", [
    ({"torch": torch.__version__}, r"config\['torch'\] is a torch.torch_version.TorchVersion"),
    ({"lr": np.float64(0.1)}, r"config\['lr'\] is a numpy.float64"),
    ({"dirs": [Path("runs")]}, r"config\['dirs'\]\[0\] is a pathlib"),
])
def test_a_config_weights_only_could_not_read_back_is_refused_before_writing(tmp_path, config, where):
    save_checkpoint(tmp_path / "last.pt", nn.Linear(2, 2), epoch=1)
    with pytest.raises(TypeError, match=where + ".*weights_only=True"):
        save_checkpoint(tmp_path / "last.pt", nn.Linear(2, 2), epoch=2, config=config)
    assert load_checkpoint(tmp_path / "last.pt", nn.Linear(2, 2))["epoch"] == 1
    save_checkpoint(tmp_path / "ok.pt", nn.Linear(2, 2), config={"lr": 0.1, "sizes": (1, 2), "name": None})
