"""Checks for notebook 09 (saving and loading): loading for inference, stripping a prefix, an atomic save."""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import torch
from torch import nn

from helpers.checkpoint import save_checkpoint
from helpers.exercises.core import Check, Hint, call, expect


def _net(running_mean: float = 0.0) -> nn.Module:
    norm = nn.BatchNorm1d(6)
    norm.running_mean = torch.full((6,), running_mean)
    return nn.Sequential(nn.Linear(4, 6), norm, nn.Dropout(0.5), nn.Linear(6, 2))


def load_for_inference(answer: Any) -> str:
    """``load_for_inference(path, model) -> int``: load a ``save_checkpoint`` file on any machine, eval mode, epoch."""
    torch.manual_seed(0)
    trained = _net(running_mean=0.5)
    loads: list[dict[str, Any]] = []
    real_load = torch.serialization.load                         # torch.load is the same function
    signature = inspect.signature(real_load)

    def recording_load(*args: Any, **kwargs: Any) -> Any:     # notes how the learner calls torch.load
        loads.append(signature.bind(*args, **kwargs).arguments)
        return real_load(*args, **kwargs)

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder:
        path = save_checkpoint(Path(folder) / "best.pt", trained, epoch=7)
        model = _net()
        with mock.patch.object(torch, "load", recording_load), \
                mock.patch.object(torch.serialization, "load", recording_load):
            epoch = call(answer, path, model, hints=[("Missing key(s)", "the file is a dict of state_dicts (model, "
                         "optimizer, epoch, ...): load `checkpoint[\"model\"]` into the model.")])
    expect(bool(loads), "the check saw no call to `torch.load`: read the file with `torch.load(path, "
                        "map_location=..., weights_only=True)`, called as `torch.load` (the check watches that name)")
    expect(loads[0].get("map_location") is not None, "`torch.load` was called without `map_location`: a checkpoint "
           "saved on a GPU would then fail on a machine without one. Pass `map_location=\"cpu\"` (or your device)")
    expect(loads[0].get("weights_only", True) is not False, "`weights_only=False` lets the file run code when it is "
                                                            "loaded: a checkpoint needs `weights_only=True`")
    expect(all(torch.equal(a.detach().cpu(), b) for a, b in zip(model.state_dict().values(),
                                                                trained.state_dict().values(), strict=True)),
           "the model's weights are not the checkpoint's")
    expect(not model.training, "the model is still in train mode: dropout and batch norm would behave as in "
                               "training. Call `model.eval()` before returning")
    expect(isinstance(epoch, int) and epoch == 7, f"the checkpoint is from epoch 7, and you returned {epoch!r:.80}: "
                                                  "`checkpoint[\"epoch\"]`")
    return "`torch.load(path, map_location=\"cpu\", weights_only=True)`, `load_state_dict(ckpt[\"model\"])`, `eval()`."


def strip_prefix(answer: Any) -> str:
    """``strip_prefix(state_dict, prefix) -> dict``: a new dict, with ``prefix`` removed where a key starts with it."""
    state = {"module.stem.weight": torch.ones(2), "module.submodule.weight": torch.zeros(2),
             "module.layer1.weight": torch.full((2,), 3.0), "module.head.module.bias": torch.ones(1),
             "decoder.module.bias": torch.zeros(1)}               # no prefix: it stays as it is
    before = dict(state)
    got = call(answer, state, "module.")
    expect(state == before and list(state) == list(before), "the caller's dict changed: build a new one")
    expect(isinstance(got, dict), f"return a dict, not {type(got).__name__}")
    want = ["stem.weight", "submodule.weight", "layer1.weight", "head.module.bias", "decoder.module.bias"]
    if "decoder.bias" in got or "bias" in got:
        raise Hint(f"the keys became {list(got)}: 'decoder.module.bias' does not start with the prefix and must stay "
                   "as it is. Remove the prefix only at the start: `key.removeprefix(prefix)`")
    if "ayer1.weight" in got:
        raise Hint("'module.layer1.weight' became 'ayer1.weight': `lstrip` removes any of the given characters, not "
                   "the prefix as a whole. Use `key.removeprefix(prefix)`")
    if "subweight" in got or "head.bias" in got:
        raise Hint(f"the keys became {list(got)}: `replace` also removes 'module.' inside a name. Remove only a "
                   "leading prefix: `key.removeprefix(prefix)`, or `key[len(prefix):]` when `key.startswith(prefix)`")
    expect(sorted(got) == sorted(want), f"the keys should be {want}, and are {list(got)}")
    expect(all(torch.equal(got[k], state[f"module.{k}" if f"module.{k}" in state else k]) for k in want),
           "the values should be the tensors of the keys they came from")
    plain = call(answer, {"fc.weight": torch.ones(1)}, "_orig_mod.")
    expect(list(plain) == ["fc.weight"], f"a key without the prefix should stay as it is; got {list(plain)}")
    return "only leading prefixes removed, a new dict, the same tensors."


class _FailsHalfway:
    """Pickling it raises, after the tensors before it were written: a disk that fills up mid-save."""

    def __reduce__(self) -> Any:
        raise OSError(28, "No space left on device (simulated)")


def save_atomically(answer: Any) -> str:
    """``save_atomically(obj, path)``: the old file stays whole when a save fails; no temporary file is left."""
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder:
        path = Path(folder) / "last.pt"
        torch.save({"epoch": 4}, path)
        try:
            answer({"weights": torch.zeros(10_000), "broken": _FailsHalfway()}, path)
        except NotImplementedError:
            call(answer, {}, path, returns=False)                # reports "not answered", or says where it came from
            raise Hint("saving this checkpoint raised NotImplementedError, and saving an empty dict did not") from None
        except Exception:
            pass
        else:
            raise Hint("a save that failed returned normally: let the error reach the caller (re-raise it), so "
                       "the run knows its checkpoint was not written")
        try:
            old = torch.load(path, weights_only=True)
        except Exception as error:
            raise Hint(f"after the failed save, last.pt no longer loads ({type(error).__name__}). Write to a "
                       "temporary file in the same folder, then `os.replace` it onto the path") from error
        expect(old == {"epoch": 4}, "after the failed save, last.pt no longer holds the previous checkpoint")
        left = sorted(p.name for p in Path(folder).iterdir() if p.name != "last.pt")
        expect(not left, f"the failed save left {left} behind: delete the temporary file when writing fails "
                         "(`try` / `finally`, or `except` + re-raise)")
        call(answer, {"epoch": 5}, path, returns=False)
        expect(torch.load(path, weights_only=True) == {"epoch": 5}, "a save that worked did not replace last.pt")
        left = sorted(p.name for p in Path(folder).iterdir() if p.name != "last.pt")
        expect(not left, f"a save that worked left {left} next to last.pt")
    return "temporary file, then `os.replace`: the old checkpoint survives a failed save."


CHECKS: dict[str, Check] = {"09.1": load_for_inference, "09.2": strip_prefix, "09.3": save_atomically}
