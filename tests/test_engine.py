import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import helpers.engine as engine
from helpers.engine import evaluate, fit, train_one_epoch
from helpers.models import SmallCNN

CPU = torch.device("cpu")


def data(n=100, seed=0):
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g))


def loaders(batch_size=32):
    # shuffle with a seeded generator: both runs see the same order
    return (DataLoader(data(100), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(1)),
            DataLoader(data(40, seed=1), batch_size=batch_size))


def make(seed=0, scheduler=False):
    torch.manual_seed(seed)
    model = SmallCNN(width=8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=2 * 4) if scheduler else None
    return model, optimizer, sched


@pytest.mark.parametrize("per_batch_scheduler", [False, True])
def test_fit_is_bit_identical_to_a_hand_written_loop(per_batch_scheduler):
    train_loader, val_loader = loaders()
    loss_fn = nn.CrossEntropyLoss()

    model, optimizer, scheduler = make(scheduler=per_batch_scheduler)
    for _ in range(2):
        model.train()
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        model.eval()
        with torch.no_grad():
            for x, y in val_loader:
                model(x)
    by_hand = model.state_dict()

    train_loader, val_loader = loaders()
    model, optimizer, scheduler = make(scheduler=per_batch_scheduler)
    history = fit(model, train_loader, val_loader, loss_fn, optimizer, CPU, epochs=2, scheduler=scheduler,
                  scheduler_step="batch", progress=False, verbose=False)
    assert history["epoch"] == [1, 2]
    for key, value in model.state_dict().items():
        assert torch.equal(value, by_hand[key]), key


def test_metrics_are_weighted_by_batch_size():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    loader = DataLoader(TensorDataset(x, y), batch_size=4)          # batches of 4, 4, 2
    result = evaluate(model, loader, nn.CrossEntropyLoss(), CPU)
    with torch.no_grad():
        expected_loss = nn.CrossEntropyLoss()(model(x), y).item()
        expected_acc = (model(x).argmax(1) == y).float().mean().item()
    assert result["n"] == 10
    assert math.isclose(result["loss"], expected_loss, rel_tol=1e-6)
    assert math.isclose(result["acc"], expected_acc)
    naive_mean_of_batch_means = sum(nn.CrossEntropyLoss()(model(xb), yb).item() for xb, yb in loader) / 3
    assert not math.isclose(result["loss"], naive_mean_of_batch_means, rel_tol=1e-6)


def scripted_evaluate(losses, snapshots):
    """Replace evaluate: return scripted validation losses and keep the weights of each epoch."""
    def fake(model, loader, loss_fn, device, amp_dtype=None):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        value = losses[len(snapshots) - 1]
        return {"loss": value, "acc": 1 - value, "n": 1}
    return fake


def test_early_stopping_and_best_weights_restore(monkeypatch):
    snapshots = []
    monkeypatch.setattr(engine, "evaluate", scripted_evaluate([1.0, 0.8, 0.9, 0.95, 0.7, 0.6], snapshots))
    train_loader, val_loader = loaders()
    model, optimizer, _ = make()
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=6,
                  patience=2, restore_best=True, progress=False, verbose=False)
    assert history["epoch"] == [1, 2, 3, 4]          # epochs 3 and 4 did not improve on epoch 2: stop
    assert history["best_epoch"] == [2]
    for key, value in model.state_dict().items():
        assert torch.equal(value, snapshots[1][key]), key   # the weights of epoch 2 are back


def test_monitor_accuracy_and_no_restore(monkeypatch):
    snapshots = []
    monkeypatch.setattr(engine, "evaluate", scripted_evaluate([0.5, 0.4, 0.45], snapshots))
    train_loader, val_loader = loaders()
    model, optimizer, _ = make()
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=3,
                  monitor="val_acc", progress=False, verbose=False)
    assert history["best_epoch"] == [2] and len(history["epoch"]) == 3   # acc = 1 - loss: best at 0.4
    for key, value in model.state_dict().items():
        assert torch.equal(value, snapshots[2][key]), key   # restore_best=False keeps the last weights


def test_nan_loss_names_epoch_and_batch():
    calls = {"n": 0}

    def exploding_loss(outputs, targets):
        calls["n"] += 1
        loss = nn.functional.cross_entropy(outputs, targets)
        return loss * float("nan") if calls["n"] == 3 else loss

    train_loader, _ = loaders()
    model, optimizer, _ = make()
    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch 7, batch 3"):
        train_one_epoch(model, train_loader, exploding_loss, optimizer, CPU, epoch=7)


def test_gradient_clipping_matches_clip_grad_norm():
    train_loader, _ = loaders(batch_size=100)                    # one batch
    x, y = next(iter(train_loader))
    model, optimizer, _ = make()
    train_one_epoch(model, [(x, y)], nn.CrossEntropyLoss(), optimizer, CPU, grad_clip=0.1)
    clipped = model.state_dict()

    model, optimizer, _ = make()
    model.train()
    loss = nn.CrossEntropyLoss()(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 0.1)
    optimizer.step()
    for key, value in model.state_dict().items():
        assert torch.equal(value, clipped[key]), key


def test_epoch_scheduler_and_plateau():
    train_loader, val_loader = loaders()
    model, optimizer, _ = make()
    step = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=3,
                  scheduler=step, progress=False, verbose=False)
    assert history["lr"] == [0.05, 0.025, 0.0125]

    model, optimizer, _ = make()
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.1, threshold=10.0)
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=3,
                  scheduler=plateau, progress=False, verbose=False)
    assert history["lr"][0] == 0.05 and history["lr"][-1] < 0.05   # no 10x improvement: lr cut


def test_mixed_precision_bfloat16_on_cpu():
    train_loader, val_loader = loaders()
    model, optimizer, _ = make()
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=1,
                  amp_dtype=torch.bfloat16, progress=False, verbose=False)
    assert math.isfinite(history["train_loss"][0]) and math.isfinite(history["val_loss"][0])
    assert next(model.parameters()).dtype == torch.float32          # weights stay in float32


def test_bad_arguments():
    train_loader, val_loader = loaders()
    model, optimizer, _ = make()
    with pytest.raises(ValueError, match="scheduler_step"):
        fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=1, scheduler_step="step")
    with pytest.raises(ValueError, match="no batches"):
        evaluate(model, [], nn.CrossEntropyLoss(), CPU)
