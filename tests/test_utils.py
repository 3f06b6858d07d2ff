import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers.utils import DEVICE_ENV_VAR, check_device, get_device, set_seed


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
    with pytest.raises(ValueError, match=r"HELPERS_DEVICE='cuda', but this machine has no CUDA GPU"):
        get_device()


def test_get_device_checks_the_cuda_index(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV_VAR, "cuda:7")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(ValueError, match=r"'cuda:7', but this machine has 2 CUDA GPU\(s\): cuda:0 to cuda:1"):
        get_device()
    monkeypatch.setenv(DEVICE_ENV_VAR, "cuda:1")
    assert get_device() == torch.device("cuda:1")


def test_check_device_accepts_strings_and_devices():
    assert check_device("cpu") == check_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(TypeError, match="device must be a torch.device or a string"):
        check_device(0.5)


def test_importing_helpers_is_light():
    # Each module imports only what it needs: no matplotlib or TorchCodec until a function needs them.
    code = ("import sys, helpers, helpers.engine, helpers.data, helpers.datasets, helpers.loading, "
            "helpers.transforms, helpers.models, helpers.losses, helpers.utils, helpers.callbacks; "
            "helpers.fit; helpers.ImageFileDataset; "
            "print(sorted(m for m in ('matplotlib', 'torchcodec') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    code = "import sys, helpers; helpers.show_image_grid; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"                     # the lazy name still resolves


def test_helpers_names_resolve_to_their_modules():
    import helpers

    for name in helpers.__all__:
        assert getattr(helpers, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = helpers.nope
