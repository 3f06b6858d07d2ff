"""Checks for notebook 11 (TensorBoard): a gradient-norm callback, reading every point back, TensorBoard's smoothing."""

from __future__ import annotations

import math
import tempfile
from typing import Any

import torch
from torch import nn

from helpers.exercises.core import Check, Hint, call, expect


class _Writer:
    """A ``SummaryWriter`` stand-in that keeps what ``add_scalar`` was given."""

    def __init__(self) -> None:
        self.scalars: list[tuple[str, float, int]] = []

    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None, walltime: float | None = None,
                   new_style: bool = False, double_precision: bool = False) -> None:
        self.scalars.append((tag, float(scalar_value), -1 if global_step is None else int(global_step)))

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict[str, Any], global_step: int | None = None,
                    walltime: float | None = None) -> None:
        self.scalars.append((f"{main_tag} (through add_scalars, which writes one run folder per key)", 0.0, -1))

    def __getattr__(self, name: str) -> Any:
        """Any other writer method (``flush``, ``add_histogram``, ...) does nothing here."""
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None


def grad_norm_callback(answer: Any) -> str:
    """``GradNormCallback(model, writer, every)``: logs the total gradient norm as ``grads/norm`` every N steps."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model[0].bias.requires_grad_(False)                          # frozen: its .grad stays None
    writer = _Writer()
    callback = call(answer, model, writer, 10)
    expect(hasattr(callback, "on_batch_end"), "the callback needs a method `on_batch_end(self, step, loss, n, lr)`")
    norms, summed = {}, {}
    for step in range(1, 26):
        trained = [p for p in model.parameters() if p.requires_grad]
        grads = [torch.randn_like(p) * step for p in trained]
        for p, grad in zip(trained, grads, strict=True):
            p.grad = grad
        norms[step] = math.sqrt(sum(float(grad.pow(2).sum()) for grad in grads))
        summed[step] = sum(float(grad.norm()) for grad in grads)
        call(callback.on_batch_end, step, torch.tensor(1.0), 8, 0.01, returns=False,
             hints=[("NoneType", "a frozen parameter has no gradient (`p.grad is None`): leave it out."),
                    ("supposed to be defined", "a frozen parameter has no gradient (`p.grad is None`): leave it "
                     "out.")])
    expect(bool(writer.scalars), "nothing was logged: call `writer.add_scalar(\"grads/norm\", norm, step)`")
    tags = {tag for tag, _, _ in writer.scalars}
    expect(tags == {"grads/norm"}, f"log under the tag 'grads/norm'; you used {sorted(tags)}")
    steps = [s for _, _, s in writer.scalars]
    if steps == list(range(1, 26)):
        raise Hint("you logged at every step; log only when `step % every == 0` (steps 10 and 20 here)")
    expect(steps == [10, 20], f"with every=10 over steps 1..25, log at steps [10, 20] (pass `step` as the "
                              f"global_step); you logged at {steps}")
    for _, value, step in writer.scalars:
        if math.isclose(value, summed[step], rel_tol=1e-4):
            raise Hint("you added the parameters' norms. The total norm is the square root of the sum of squares "
                       "over all gradients: `torch.nn.utils.get_total_norm([p.grad for p in model.parameters() "
                       "if p.grad is not None])`")
        expect(math.isclose(value, norms[step], rel_tol=1e-4), f"at step {step} the total gradient norm is "
               f"{norms[step]:.4f}, and you logged {value:.4f}")
    return "the total norm over all parameters' gradients, every N steps, at the global step."


def read_scalar(answer: Any) -> str:
    """``read_scalar(logdir, tag) -> (steps, values)``: every point of one scalar tag, not a sample."""
    from torch.utils.tensorboard import SummaryWriter

    n = 10_500
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as logdir:
        with SummaryWriter(logdir) as writer:
            for step in range(n):
                writer.add_scalar("loss/train", 1 / (step + 1), step)
            writer.add_scalar("loss/val", 0.5, 0)
        got = call(answer, logdir, "loss/train", hints=[("KeyError", "tags are read after `Reload()`, with "
                                                                     "`Scalars(tag)`.")])
    expect(isinstance(got, (tuple, list)) and len(got) == 2, "return a pair: (steps, values)")
    steps, values = (list(part) for part in got)
    if len(steps) == 10_000:
        raise Hint(f"you got 10,000 of the {n:,} points: `EventAccumulator` keeps a random sample of 10,000 scalars "
                   "per tag by default. Pass `size_guidance={\"scalars\": 0}` (0: keep all)")
    expect(len(steps) == n and len(values) == n, f"expected {n:,} steps and values; got {len(steps):,} and "
                                                 f"{len(values):,}")
    expect([int(s) for s in steps] == list(range(n)), "the steps should be 0, 1, 2, ... in order (`event.step`)")
    expect(all(math.isclose(float(v), 1 / (s + 1), rel_tol=1e-6) for s, v in zip(range(n), values, strict=True)),
           "the values differ from what was logged (`event.value`)")
    return "`EventAccumulator(logdir, size_guidance={\"scalars\": 0})`, `Reload()`, `Scalars(tag)`: every point."


def tb_smooth(answer: Any) -> str:
    """``tb_smooth(values, weight) -> list``: TensorBoard's moving average, debiased at the start."""
    values = [4.0, 2.0, 3.0, 1.0, 1.5, 0.5, 0.8]
    for weight in (0.6, 0.0, 0.9):
        last, want = 0.0, []
        for i, v in enumerate(values, 1):
            last = last * weight + (1 - weight) * v
            want.append(last / (1 - weight**i) if weight < 1 else last)
        counting = ("division by zero", "the i-th point counts from 1, so the first is divided by 1 - w.")
        got = [float(v) for v in call(answer, list(values), weight, hints=[counting])]
        expect(len(got) == len(values), f"return one smoothed value per point ({len(values)}); got {len(got)}")
        if weight and math.isclose(got[0], (1 - weight) * values[0], rel_tol=1e-6):
            raise Hint(f"the first point is {got[0]:.3f} = (1 - w) · {values[0]}: an average that starts at 0 is "
                       "pulled towards 0 at the start. TensorBoard divides by 1 - w^i (i: points so far)")
        if weight and math.isclose(got[1], weight * values[0] + (1 - weight) * values[1], rel_tol=1e-6):
            raise Hint("you start the average at the first value; TensorBoard starts at 0 and divides by 1 - w^i, "
                       "which weights the first points a little differently")
        expect(all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(got, want, strict=True)),
               f"with w = {weight} the smoothed values are {[round(v, 4) for v in want]}, and yours are "
               f"{[round(v, 4) for v in got]}")
    return "last = w · last + (1 - w) · value, shown as last / (1 - w^i): what the slider draws."


CHECKS: dict[str, Check] = {"11.1": grad_norm_callback, "11.2": read_scalar, "11.3": tb_smooth}
