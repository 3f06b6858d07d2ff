"""Notebook 11, TensorBoard: a gradient-norm callback, reading every point back, TensorBoard's smoothing."""

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


class GradNormCallback:
    def __init__(self, model, writer, every):
        self.model, self.writer, self.every = model, writer, every

    def on_batch_end(self, step, loss, n, lr):                   # called after optimizer.step(): .grad is still set
        if step % self.every == 0:
            grads = [p.grad for p in self.model.parameters() if p.grad is not None]
            self.writer.add_scalar("grads/norm", torch.nn.utils.get_total_norm(grads).item(), step)


def read_scalar(logdir, tag):
    events = EventAccumulator(str(logdir), size_guidance={"scalars": 0})     # 0: keep every point
    events.Reload()
    points = events.Scalars(tag)
    return [p.step for p in points], [p.value for p in points]


def tb_smooth(values, weight):
    last, smoothed = 0.0, []
    for i, value in enumerate(values, 1):
        last = last * weight + (1 - weight) * value
        smoothed.append(last / (1 - weight**i) if weight < 1 else last)     # debiased: the start is not pulled to 0
    return smoothed


SOLUTIONS = {"11.1": GradNormCallback, "11.2": read_scalar, "11.3": tb_smooth}


class _NormsAdded(GradNormCallback):
    def on_batch_end(self, step, loss, n, lr):
        if step % self.every == 0:
            total = sum(p.grad.norm().item() for p in self.model.parameters() if p.grad is not None)
            self.writer.add_scalar("grads/norm", total, step)


class _EveryStep(GradNormCallback):
    def on_batch_end(self, step, loss, n, lr):
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        self.writer.add_scalar("grads/norm", torch.nn.utils.get_total_norm(grads).item(), step)


def _read_sampled(logdir, tag):
    events = EventAccumulator(str(logdir))
    events.Reload()
    points = events.Scalars(tag)
    return [p.step for p in points], [p.value for p in points]


def _smooth_without_correction(values, weight):
    last, smoothed = 0.0, []
    for value in values:
        last = last * weight + (1 - weight) * value
        smoothed.append(last)
    return smoothed


def _smooth_from_first_value(values, weight):
    smoothed = [values[0]]
    for value in values[1:]:
        smoothed.append(smoothed[-1] * weight + (1 - weight) * value)
    return smoothed


def _smooth_from_zero_index(values, weight):
    last, smoothed = 0.0, []
    for i, value in enumerate(values):
        last = last * weight + (1 - weight) * value
        smoothed.append(last / (1 - weight**i))
    return smoothed


class _Flushing(GradNormCallback):
    def on_batch_end(self, step, loss, n, lr):
        if step % self.every == 0:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), float("inf"))
            self.writer.add_scalar(tag="grads/norm", scalar_value=norm.item(), global_step=step)
            self.writer.flush()


class _NoneGradients(GradNormCallback):
    def on_batch_end(self, step, loss, n, lr):
        if step % self.every == 0:
            norm = torch.nn.utils.get_total_norm([p.grad for p in self.model.parameters()])
            self.writer.add_scalar("grads/norm", norm.item(), step)


class _AlsoHistograms(GradNormCallback):
    def on_batch_end(self, step, loss, n, lr):
        super().on_batch_end(step, loss, n, lr)
        if step % self.every == 0:
            for name, p in self.model.named_parameters():
                if p.grad is not None:
                    self.writer.add_histogram(f"grads/{name}", p.grad, step)


MISTAKES = {
    "11.1": [
        (_NormsAdded, "you added the parameters' norms"),
        (_EveryStep, "you logged at every step"),
        (_NoneGradients, "a frozen parameter has no gradient"),
    ],
    "11.2": [(_read_sampled, "size_guidance")],
    "11.3": [
        (_smooth_without_correction, "pulled towards 0"),
        (_smooth_from_first_value, "TensorBoard starts at 0"),
        (_smooth_from_zero_index, "counts from 1"),
    ],
}

#: Correct answers written another way: the checks must accept them too.
ALTERNATIVES = {
    "11.1": [_Flushing, _AlsoHistograms],
}
