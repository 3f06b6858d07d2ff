import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import helpers.engine as engine
from helpers.callbacks import EarlyStopping
from helpers.engine import evaluate, fit, train_one_epoch
from helpers.models import SmallCNN

CPU = torch.device("cpu")
QUIET = {"progress": False, "verbose": False}


def data(n=100, seed=0):
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g))


def loaders(batch_size=32, n=100):
    # shuffle with a seeded generator: both runs see the same order
    return (DataLoader(data(n), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(1)),
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
    hand_val = []
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
        total, correct = torch.zeros(()), torch.zeros((), dtype=torch.int64)
        with torch.no_grad():
            for x, y in val_loader:
                out = model(x)
                total += loss_fn(out, y).float() * len(y)
                correct += (out.argmax(1) == y).sum()
        hand_val.append((total.item() / 40, correct.item() / 40))
    by_hand = model.state_dict()

    train_loader, val_loader = loaders()
    model, optimizer, scheduler = make(scheduler=per_batch_scheduler)
    history = fit(model, train_loader, val_loader, loss_fn, optimizer, CPU, epochs=2, scheduler=scheduler,
                  scheduler_step="batch", **QUIET)
    assert history["epoch"] == [1, 2]
    assert list(zip(history["val_loss"], history["val_acc"], strict=True)) == hand_val
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


def test_sum_reduction_reports_the_same_per_sample_loss():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    loader = DataLoader(TensorDataset(torch.randn(10, 4), torch.randint(0, 3, (10,))), batch_size=4)
    mean = evaluate(model, loader, nn.CrossEntropyLoss(), CPU)
    total = evaluate(model, loader, nn.CrossEntropyLoss(reduction="sum"), CPU)
    assert math.isclose(mean["loss"], total["loss"], rel_tol=1e-6) and mean["acc"] == total["acc"]


SYNC_POINTS = ("item", "__bool__", "__float__", "__int__", "tolist")   # each waits for the device


def count_item_calls(monkeypatch, run):
    """Calls of .item(), and of the other ways to read a tensor into Python (which must be none)."""
    calls = dict.fromkeys(SYNC_POINTS, 0)
    for name in SYNC_POINTS:
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    run()
    monkeypatch.undo()
    others = {k: v for k, v in calls.items() if k != "item" and v}
    assert not others, f"reads into Python besides .item(): {others}"
    return calls["item"]


@pytest.mark.parametrize("batches", [20, 40])
def test_no_host_device_sync_per_batch(monkeypatch, batches):
    # 20 and 40 batches of 5: the number of .item() calls must not grow with the number of batches.
    # Lists of batches: a shuffling DataLoader makes one .item() call of its own per epoch (its seed).
    train_loader = list(DataLoader(data(5 * batches), batch_size=5))
    val_loader = list(DataLoader(data(5 * batches, seed=1), batch_size=5))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    n_train = count_item_calls(monkeypatch, lambda: train_one_epoch(model, train_loader, loss_fn, optimizer, CPU,
                                                                    check_every=1000))
    n_eval = count_item_calls(monkeypatch, lambda: evaluate(model, val_loader, loss_fn, CPU))
    assert n_train == 2 and n_eval == 2          # loss sum and hit count, once per epoch
    # with a finiteness check every 10 batches: one more read per check
    n_checked = count_item_calls(monkeypatch, lambda: train_one_epoch(model, train_loader, loss_fn, optimizer, CPU,
                                                                      check_every=10))
    assert n_checked == 2 + batches // 10


def scripted_evaluate(losses, snapshots):
    """Replace evaluate: return scripted validation losses and keep the weights of each epoch."""
    def fake(model, loader, loss_fn, device, amp_dtype=None, epoch=0):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        value = losses[len(snapshots) - 1]
        return {"loss": value, "acc": 1 - value, "n": 1}
    return fake


def test_early_stopping_callback_and_best_weights_restore(monkeypatch):
    snapshots = []
    monkeypatch.setattr(engine, "evaluate", scripted_evaluate([1.0, 0.8, 0.9, 0.95, 0.7, 0.6], snapshots))
    train_loader, val_loader = loaders()
    model, optimizer, _ = make()
    stopper = EarlyStopping("val_loss", patience=2, verbose=False)
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=6,
                  restore_best=True, callbacks=[stopper], **QUIET)
    assert history["epoch"] == [1, 2, 3, 4]          # epochs 3 and 4 did not improve on epoch 2: stop
    assert type(history["best_epoch"]) is int and history["best_epoch"] == 2 and stopper.stopped_epoch == 4
    for key, value in model.state_dict().items():
        assert torch.equal(value, snapshots[1][key]), key   # the weights of epoch 2 are back


def test_monitor_accuracy_and_no_restore(monkeypatch):
    snapshots = []
    monkeypatch.setattr(engine, "evaluate", scripted_evaluate([0.5, 0.4, 0.45], snapshots))
    train_loader, val_loader = loaders()
    model, optimizer, _ = make()
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=3,
                  monitor="val_acc", **QUIET)
    assert history["best_epoch"] == 2 and len(history["epoch"]) == 3   # acc = 1 - loss: best at 0.6
    for key, value in model.state_dict().items():
        assert torch.equal(value, snapshots[2][key]), key   # restore_best=False keeps the last weights


class Recorder:
    def __init__(self, stop_at=None):
        self.events, self.stop_at = [], stop_at

    def on_epoch_start(self, epoch):
        self.events.append(("start", epoch))

    def on_epoch_end(self, epoch, metrics, model):
        self.events.append(("end", epoch, metrics["val_acc"], isinstance(model, nn.Module)))
        return epoch == self.stop_at


class EndOnly:
    def __init__(self):
        self.events = []

    def on_epoch_end(self, epoch, metrics, model):
        self.events.append(("end", epoch))


def test_callbacks_are_called_in_order_and_can_stop():
    train_loader, val_loader = loaders()
    model, optimizer, _ = make()
    both = Recorder(stop_at=2)                 # has both methods; asks to stop after epoch 2
    end_only = EndOnly()                       # has on_epoch_end alone
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=5,
                  callbacks=[both, end_only], **QUIET)
    assert history["epoch"] == [1, 2]
    assert both.events == [("start", 1), ("end", 1, history["val_acc"][0], True),
                               ("start", 2), ("end", 2, history["val_acc"][1], True)]
    assert [e[:2] for e in end_only.events] == [("end", 1), ("end", 2)]


class BatchRecorder:
    def __init__(self):
        self.steps, self.losses, self.sizes, self.lrs = [], [], [], []

    def on_batch_end(self, step, loss, n, lr):
        assert loss.dim() == 0 and not loss.requires_grad
        self.steps.append(step)
        self.losses.append(loss.item())
        self.sizes.append(n)
        self.lrs.append(lr)


def test_batch_callbacks_get_the_global_step_loss_and_rate_also_when_resuming():
    train_loader, val_loader = loaders()         # 100 samples, batches of 32: 4 steps per epoch
    model, optimizer, scheduler = make(scheduler=True)
    rec = BatchRecorder()
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=1,
                  scheduler=scheduler, scheduler_step="batch", callbacks=[rec], **QUIET)
    fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=2, history=history,
        scheduler=scheduler, scheduler_step="batch", callbacks=[rec], **QUIET)
    assert rec.steps == list(range(1, 9))
    # OneCycleLR changes the rate every step; each call gets the rate its step used
    assert len(set(rec.lrs)) == 8 and rec.lrs[0] == pytest.approx(0.1 / 25)
    # the mean of the per-batch losses, weighted by batch size, is the epoch's training loss
    assert rec.sizes == [32, 32, 32, 4] * 2
    first = sum(loss * n for loss, n in zip(rec.losses[:4], rec.sizes[:4], strict=True)) / 100
    assert first == pytest.approx(history["train_loss"][0], rel=1e-5)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_batch_callbacks_get_the_loss_per_sample_whatever_the_reduction(reduction):
    train_loader, val_loader = loaders()
    model, optimizer, _ = make()
    rec = BatchRecorder()
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(reduction=reduction), optimizer, CPU,
                  epochs=1, callbacks=[rec], **QUIET)
    # the history's training loss is per sample for both reductions: so must the batches' be
    mean = sum(loss * n for loss, n in zip(rec.losses, rec.sizes, strict=True)) / 100
    assert mean == pytest.approx(history["train_loss"][0], rel=1e-5)


def test_batch_steps_without_a_loader_length_count_this_calls_steps():
    class NoLength:                              # re-iterable, but without __len__ (like an IterableDataset)
        def __init__(self, loader):
            self.loader = loader

        def __iter__(self):
            return iter(self.loader)

    train_loader, val_loader = loaders()
    model, optimizer, _ = make()
    rec = BatchRecorder()
    history = fit(model, NoLength(train_loader), val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=2,
                  callbacks=[rec], **QUIET)
    assert rec.steps == list(range(1, 9))
    # resuming: the earlier epochs' steps are unknown, so the count restarts, and fit says so
    with pytest.warns(UserWarning, match="no length"):
        fit(model, NoLength(train_loader), val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=3,
            history=history, callbacks=[rec], **QUIET)
    assert rec.steps[8:] == [1, 2, 3, 4]


def test_resume_continues_bit_identically():
    def run(splits):
        train_loader, val_loader = loaders()
        model, optimizer, _ = make()
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
        history = None
        for last in splits:
            history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=last,
                          scheduler=scheduler, history=history, **QUIET)
        return model.state_dict(), history

    straight, h1 = run([4])
    resumed, h2 = run([2, 4])
    assert h1 == h2 and h2["epoch"] == [1, 2, 3, 4]
    for key, value in straight.items():
        assert torch.equal(value, resumed[key]), key


def test_lr_history_records_the_rate_used():
    train_loader, val_loader = loaders()                      # 4 batches per epoch
    model, optimizer, _ = make()
    step = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=3,
                  scheduler=step, **QUIET)
    assert history["lr"] == pytest.approx([0.05, 0.025, 0.0125])

    model, optimizer, scheduler = make(scheduler=True)        # OneCycleLR over 2 epochs of 4 steps
    used = []
    probe_opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.05)
    probe = torch.optim.lr_scheduler.OneCycleLR(probe_opt, max_lr=0.1, total_steps=8)
    for _ in range(8):
        used.append(probe_opt.param_groups[0]["lr"])
        probe_opt.step()
        probe.step()
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=2,
                  scheduler=scheduler, scheduler_step="batch", **QUIET)
    assert history["lr"] == pytest.approx([sum(used[:4]) / 4, sum(used[4:]) / 4])

    model, optimizer, _ = make()
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.1, threshold=10.0)
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=3,
                  scheduler=plateau, **QUIET)
    assert history["lr"][0] == pytest.approx(0.05) and history["lr"][-1] < 0.05   # no 10x improvement: cut


def test_nan_loss_names_epoch_and_batch_range():
    calls = {"n": 0}

    def exploding_loss(outputs, targets):
        calls["n"] += 1
        loss = nn.functional.cross_entropy(outputs, targets)
        return loss * float("nan") if calls["n"] == 3 else loss

    train_loader, _ = loaders(batch_size=10)                   # 10 batches
    model, optimizer, _ = make()
    with pytest.raises(FloatingPointError, match=r"loss became nan in batches 3-4 of epoch 7"):
        train_one_epoch(model, train_loader, exploding_loss, optimizer, CPU, epoch=7, check_every=2)
    calls["n"] = 0
    model, optimizer, _ = make()
    with pytest.raises(FloatingPointError, match=r"batches 1-10 of epoch 1"):
        train_one_epoch(model, train_loader, exploding_loss, optimizer, CPU)   # checked at the end only


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


def test_bfloat16_autocast_really_runs_in_bfloat16():
    train_loader, val_loader = loaders()
    model, optimizer, _ = make()
    seen = []
    model.features[0][0].register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=1,
                  amp_dtype=torch.bfloat16, **QUIET)
    assert set(seen) == {torch.bfloat16}                             # every conv ran in bfloat16
    assert math.isfinite(history["train_loss"][0])
    assert next(model.parameters()).dtype == torch.float32          # weights stay in float32
    seen.clear()
    evaluate(model, val_loader, nn.CrossEntropyLoss(), CPU)
    assert set(seen) == {torch.float32}


def test_soft_targets_count_their_top_class():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x, y = torch.randn(12, 4), torch.randint(0, 3, (12,))
    soft = nn.functional.one_hot(y, 3).float() * 0.8 + 0.2 / 3      # label-smoothed probabilities
    hard = evaluate(model, [(x, y)], nn.CrossEntropyLoss(), CPU)
    probs = evaluate(model, [(x, soft)], nn.CrossEntropyLoss(), CPU)
    assert probs["acc"] == hard["acc"]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    train_one_epoch(model, [(x, soft)], nn.CrossEntropyLoss(), optimizer, CPU)   # trains without error


def test_device_given_as_a_string_works():
    train_loader, val_loader = loaders()
    model, optimizer, _ = make()
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, "cpu", epochs=1, **QUIET)
    assert history["epoch"] == [1]


class Untouchable:
    """A loader that fails if anything iterates it."""

    def __iter__(self):
        raise AssertionError("a batch was requested before the set-up was checked")


def wrong_setups():
    """(name, how to call, exception, pattern); each call must fail before any training."""
    def base(derived=None, **overrides):
        def call():
            _, val_loader = loaders()
            train_loader = Untouchable()          # iterating it would fail: the check must come first
            model, optimizer, _ = make()
            args = dict(model=model, train_loader=train_loader, val_loader=val_loader,
                        loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer, device=CPU, epochs=1, **QUIET)
            args.update(overrides)
            if derived is not None:
                args.update(derived(model, optimizer))
            return fit(**args)
        return call

    ds = data(10)
    return [
        ("dataset as loader", base(train_loader=ds), TypeError, r"train_loader is a TensorDataset.*DataLoader"),
        ("generator as loader", base(val_loader=(b for b in [(ds.tensors[0], ds.tensors[1])])), TypeError,
         r"val_loader is a one-shot iterator"),
        ("three-item batches", base(train_loader=[(ds.tensors[0], torch.ones(10, 32, 32), ds.tensors[1])]), TypeError,
         r"with_mask=False"),
        ("non-tensor batch", base(train_loader=[([1, 2], [0, 1])]), TypeError, r"\(inputs, targets\)"),
        ("targets of the wrong shape", base(train_loader=[(ds.tensors[0], ds.tensors[1][:5])]), ValueError,
         r"targets \(5,\)"),
        ("unknown monitor", base(monitor="accuracy"), ValueError, r"monitor must be one of"),
        ("plateau per batch", base(lambda m, o: {"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(o),
                                                 "scheduler_step": "batch"}), ValueError, r"ReduceLROnPlateau"),
        ("one-cycle per epoch", base(lambda m, o: {"scheduler": torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=0.1, total_steps=4)}), ValueError, r"OneCycleLR counts optimizer steps"),
        ("scheduler of another optimizer", base(lambda m, o: {"scheduler": torch.optim.lr_scheduler.StepLR(
            torch.optim.SGD(m.parameters(), lr=0.1), 1)}), ValueError, r"another optimizer"),
        ("float16 without a scaler", base(amp_dtype=torch.float16), ValueError, r"needs a scaler"),
        ("loss without reduction", base(loss_fn=nn.CrossEntropyLoss(reduction="none")), ValueError,
         r"reduction='none'"),
        ("not a callback", base(callbacks=[object()]), TypeError, r"callbacks\[0\]"),
        ("bad device name", base(device="gpu"), ValueError, r"device='gpu' is not a device name"),
        ("model elsewhere", base(lambda m, o: {"model": m.to("meta")}), ValueError, r"parameters are on meta"),
    ]


@pytest.mark.parametrize("name,call,error,pattern", wrong_setups(), ids=[w[0] for w in wrong_setups()])
def test_wrong_setups_are_refused_before_training(name, call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_missing_cuda_device_is_refused(monkeypatch):
    model, optimizer, _ = make()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        fit(model, [], [], nn.CrossEntropyLoss(), optimizer, "cuda", epochs=1, **QUIET)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"cuda:7.*1 CUDA GPU"):
        train_one_epoch(model, [], nn.CrossEntropyLoss(), optimizer, "cuda:7")


def test_float16_without_scaler_is_refused_in_train_one_epoch_too():
    model, optimizer, _ = make()
    with pytest.raises(ValueError, match="needs a scaler"):
        train_one_epoch(model, [], nn.CrossEntropyLoss(), optimizer, CPU, amp_dtype=torch.float16)


def test_empty_loader_and_resume_arguments():
    model, optimizer, _ = make()
    with pytest.raises(ValueError, match="no batches"):
        evaluate(model, [], nn.CrossEntropyLoss(), CPU)
    train_loader, val_loader = loaders()
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=1, **QUIET)
    with pytest.raises(ValueError, match="epochs is the last epoch to train; it must be an int >= 2"):
        fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=1, history=history)
    with pytest.raises(ValueError, match="history lacks"):
        fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=2, history={"epoch": [1]})


def test_valid_setups_that_look_unusual_are_accepted():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))

    class Reiterable:                       # an iterator whose __iter__ restarts it (DALI-style)
        def __iter__(self):
            self.i = 0
            return self

        def __next__(self):
            self.i += 1
            if self.i > 2:
                raise StopIteration
            return x, y

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, Reiterable(), Reiterable(), nn.CrossEntropyLoss(), optimizer, CPU, epochs=2, **QUIET)
    assert history["epoch"] == [1, 2]
    small = evaluate(model, [(x, y.to(torch.uint8))], nn.CrossEntropyLoss(), CPU)   # uint8 class indices
    assert small["acc"] == evaluate(model, [(x, y)], nn.CrossEntropyLoss(), CPU)["acc"]
    soft = nn.functional.one_hot(y, 3).float()
    kl = nn.KLDivLoss(reduction="batchmean")
    result = evaluate(nn.Sequential(model, nn.LogSoftmax(dim=1)), [(x, soft)], kl, CPU)
    with torch.no_grad():
        assert result["loss"] == pytest.approx(kl(model(x).log_softmax(1), soft).item())


def test_a_partial_with_sum_reduction_reports_per_sample_loss():
    import functools

    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    total = evaluate(model, [(x, y)], functools.partial(nn.functional.cross_entropy, reduction="sum"), CPU)
    assert total["loss"] == pytest.approx(evaluate(model, [(x, y)], nn.CrossEntropyLoss(), CPU)["loss"])


def test_more_wrong_setups():
    model, optimizer, _ = make()
    train_loader, val_loader = loaders()
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max")
    with pytest.raises(ValueError, match="mode='min'"):
        fit(model, Untouchable(), val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=1, scheduler=plateau)
    with pytest.warns(UserWarning, match="GradScaler"), pytest.raises(ValueError, match="GradScaler is disabled"):
        scaler = torch.amp.GradScaler("cuda") if not torch.cuda.is_available() else torch.amp.GradScaler(
            "cpu", enabled=False)
        fit(model, Untouchable(), val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=1,
            amp_dtype=torch.float16, scaler=scaler)
    with pytest.warns(UserWarning, match="watches 'val_acc' but fit"):
        fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, CPU, epochs=1, restore_best=True,
            callbacks=[EarlyStopping("val_acc", verbose=False)], **QUIET)


def test_nan_in_evaluation_names_the_epoch():
    model = nn.Linear(4, 3)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))

    def nan_loss(outputs, targets):
        return nn.functional.cross_entropy(outputs, targets) * float("nan")

    with pytest.raises(FloatingPointError, match="of epoch 5"):
        evaluate(model, [(x, y)], nan_loss, CPU, epoch=5)


class CountingLoader(DataLoader):
    """A DataLoader that counts how often an iterator over it is created (each one starts workers)."""

    iterators = 0

    def __iter__(self):
        type(self).iterators += 1
        return super().__iter__()


def test_progress_bars_change_nothing_and_iterate_the_loader_once_per_epoch():
    data = TensorDataset(torch.randn(64, 4, generator=torch.Generator().manual_seed(0)), torch.arange(64) % 3)
    results = {}
    for progress in (False, True):
        torch.manual_seed(1)
        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.Linear(8, 3))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        CountingLoader.iterators = 0
        train = CountingLoader(data, batch_size=16, shuffle=True)        # shuffles with the global generator
        history = fit(model, train, [next(iter(DataLoader(data, batch_size=64)))], nn.CrossEntropyLoss(),
                      optimizer, "cpu", 3, progress=progress, verbose=False)
        results[progress] = history, model.state_dict(), torch.rand(1), CountingLoader.iterators
    (h0, w0, r0, n0), (h1, w1, r1, n1) = results[False], results[True]
    assert n0 == n1 == 3
    assert h0 == h1 and torch.equal(r0, r1)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
