"""helpers.distributed and the engine's metrics under a real two-process gloo group."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from helpers.distributed import SetEpoch, all_reduce_sums, cleanup, is_main_process, setup, uses_cuda
from helpers.engine import evaluate


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank: int, world_size: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    got_rank, got_world, device = setup("gloo")
    totals = all_reduce_sums({"loss": 1.5 * (rank + 1), "correct": rank + 1, "seen": 10 * (rank + 1)})
    # evaluate on this rank's share: rank 0 gets 4 samples, rank 1 gets 6
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    x, y = torch.randn(10, 3), torch.tensor([0, 1] * 5)
    # a loader sharded by a DistributedSampler: each rank sees 5 samples, evaluate sums over both
    sampler = DistributedSampler(TensorDataset(x, y), shuffle=False)
    result = evaluate(model, DataLoader(TensorDataset(x, y), batch_size=4, sampler=sampler), nn.CrossEntropyLoss(),
                      device)
    # rank 0 alone, on a plain loader (the usual "evaluate on the main process"): no reduction, no hang
    alone = evaluate(model, [(x[:4], y[:4])], nn.CrossEntropyLoss(), device) if rank == 0 else None
    torch.save({"rank": got_rank, "world": got_world, "main": is_main_process(), "totals": totals,
                "result": result, "alone": alone}, f"{out}.{rank}")
    cleanup()


@pytest.mark.slow
def test_two_gloo_processes_sum_metrics_over_all_data(tmp_path):
    out = str(tmp_path / "result")
    mp.start_processes(worker, args=(2, free_port(), out), nprocs=2, start_method="spawn")
    results = [torch.load(f"{out}.{r}", weights_only=True) for r in range(2)]
    assert [(r["rank"], r["world"], r["main"]) for r in results] == [(0, 2, True), (1, 2, False)]
    for r in results:
        assert r["totals"] == {"loss": 4.5, "correct": 3.0, "seen": 30.0}   # sums, on every rank
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    x, y = torch.randn(10, 3), torch.tensor([0, 1] * 5)
    whole = evaluate(model, [(x, y)], nn.CrossEntropyLoss(), "cpu")         # one process, all 10 samples
    for r in results:                                                       # each rank reports all 10
        assert r["result"]["n"] == 10
        assert r["result"]["loss"] == pytest.approx(whole["loss"]) and r["result"]["acc"] == whole["acc"]
    assert results[0]["alone"]["n"] == 4 and results[1]["alone"] is None


def test_without_a_group_nothing_is_reduced(monkeypatch):
    assert all_reduce_sums({"a": 2, "b": 3.5}) == {"a": 2.0, "b": 3.5}
    assert is_main_process()
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(RuntimeError, match="torch.distributed.run"):
        setup()


def test_set_epoch_callback_reshuffles_each_epoch():
    sampler = torch.utils.data.DistributedSampler(range(20), num_replicas=2, rank=0, shuffle=True, seed=0)
    first = list(sampler)
    SetEpoch(sampler).on_epoch_start(1)
    assert list(sampler) != first
    with pytest.raises(TypeError, match="set_epoch"):
        SetEpoch(object())


def test_setup_uses_the_cpu_unless_every_process_gets_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert not uses_cuda(None, 2)             # 2 processes, 1 GPU: gloo on the CPUs
    assert uses_cuda(None, 1) and uses_cuda("nccl", 1)
    assert not uses_cuda("gloo", 1)           # gloo asked for: CPU tensors
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not uses_cuda(None, 1)


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_ddp_script_equals_one_process_over_the_same_global_batches(tmp_path):
    """scripts/ddp_train.py with 2 gloo processes vs the same training in this process (notebook 08's claim)."""
    import importlib.util

    from helpers.data import cifar10_mini_tensors

    images, labels, _ = cifar10_mini_tensors("val")
    data = tmp_path / "data.pt"
    torch.save({"images": images, "labels": labels}, data)
    out = tmp_path / "ddp.pt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ROOT / "scripts" / "ddp_train.py"), "--data", str(data), "--limit", "256", "--epochs", "2",
           "--out", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**__import__("os").environ,
                         "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "2 processes" in run.stdout

    spec = importlib.util.spec_from_file_location("ddp_train", ROOT / "scripts" / "ddp_train.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    dataset = script.load_data(data, 256, torch.float64)
    sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=0, drop_last=True)
    loader = DataLoader(dataset, batch_size=64, sampler=sampler, drop_last=True)   # the same global batches
    torch.manual_seed(0)
    model = script.tiny_cnn().to(torch.float64)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    two = torch.load(out, weights_only=True)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(two[key], value, rtol=0, atol=1e-10)
