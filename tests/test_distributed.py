"""helpers.distributed and the engine's metrics under a real two-process gloo group."""

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from helpers.distributed import SetEpoch, all_reduce_sums, cleanup, is_main_process, setup
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
    share = slice(0, 4) if rank == 0 else slice(4, 10)
    result = evaluate(model, [(x[share], y[share])], nn.CrossEntropyLoss(), device)
    torch.save({"rank": got_rank, "world": got_world, "main": is_main_process(), "totals": totals,
                "result": result}, f"{out}.{rank}")
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
