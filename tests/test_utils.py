import random

import numpy as np
import pytest
import torch

from helpers.utils import DEVICE_ENV_VAR, get_device, set_seed


def draw() -> tuple[float, float, torch.Tensor]:
    return random.random(), float(np.random.rand()), torch.rand(3)


def test_set_seed_repeats_every_generator():
    set_seed(123)
    a = draw()
    set_seed(123)
    b = draw()
    assert a[:2] == b[:2]
    assert torch.equal(a[2], b[2])


def test_set_seed_different_seeds_differ():
    set_seed(1)
    a = draw()
    set_seed(2)
    b = draw()
    assert a[0] != b[0] and a[1] != b[1] and not torch.equal(a[2], b[2])


def test_set_seed_matches_plain_torch_manual_seed():
    set_seed(7)
    ours = torch.randn(4)
    torch.manual_seed(7)
    assert torch.equal(ours, torch.randn(4))


def test_get_device_env_forces_cpu(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV_VAR, "cpu")
    assert get_device() == torch.device("cpu")


def test_get_device_falls_back_to_cpu(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")


def test_get_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device() == torch.device("cuda")


def test_get_device_rejects_a_bad_name(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV_VAR, "gpu-please")
    with pytest.raises(ValueError, match="gpu-please"):
        get_device()


def test_get_device_rejects_a_missing_device(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV_VAR, "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="no cuda device"):
        get_device()
