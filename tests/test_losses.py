import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.losses import FocalLoss


@pytest.fixture
def batch():
    torch.manual_seed(0)
    return torch.randn(16, 5), torch.randint(0, 5, (16,))


def test_gamma_zero_is_cross_entropy(batch):
    logits, target = batch
    torch.testing.assert_close(FocalLoss(gamma=0)(logits, target), nn.CrossEntropyLoss()(logits, target))
    weights = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0])
    torch.testing.assert_close(FocalLoss(gamma=0, alpha=weights)(logits, target),
                               nn.CrossEntropyLoss(weight=weights)(logits, target))
    torch.testing.assert_close(FocalLoss(gamma=0, reduction="sum")(logits, target),
                               nn.CrossEntropyLoss(reduction="sum")(logits, target))


def test_matches_the_formula(batch):
    logits, target = batch
    p = logits.softmax(dim=1)[torch.arange(16), target]
    expected = -((1 - p) ** 2) * p.log()
    torch.testing.assert_close(FocalLoss(gamma=2, reduction="none")(logits, target), expected)
    torch.testing.assert_close(FocalLoss(gamma=2)(logits, target), expected.mean())


def test_down_weights_easy_examples():
    easy = torch.tensor([[5.0, 0.0]])
    hard = torch.tensor([[0.0, 0.5]])
    target = torch.tensor([0])
    ce, focal = nn.CrossEntropyLoss(), FocalLoss(gamma=2)
    assert focal(easy, target) / ce(easy, target) < 0.01
    assert focal(hard, target) / ce(hard, target) > 0.3


def test_gradients_flow(batch):
    logits, target = batch
    logits = logits.clone().requires_grad_(True)
    FocalLoss()(logits, target).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_rejects_bad_arguments(batch):
    logits, target = batch
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(gamma=-1)
    with pytest.raises(ValueError, match="reduction"):
        FocalLoss(reduction="avg")
    with pytest.raises(TypeError, match="int64"):
        FocalLoss()(logits, target.float())
    with pytest.raises(ValueError, match=r"\(N, C\) logits and \(N,\) targets"):
        FocalLoss()(logits, target[:, None])


@pytest.mark.parametrize("gamma", [0.0, 0.25, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("margin", [5.0, 20.0, 100.0, 1000.0])
def test_confident_correct_samples_have_finite_gradients(gamma, margin):
    # For gamma < 1 the derivative of (1 - p) ** gamma is infinite at p = 1; with margin 20
    # float32 rounds p to exactly 1, and the naive formula gave NaN gradients.
    logits = torch.tensor([[margin, 0.0], [0.0, 1.0]], requires_grad=True)
    target = torch.tensor([0, 0])
    loss = FocalLoss(gamma=gamma)(logits, target)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(logits.grad).all(), logits.grad
    # the value is the formula's, computed in float64
    p = logits.detach().double().softmax(1)[torch.arange(2), target]
    expected = (-((1 - p) ** gamma) * p.log()).mean()
    torch.testing.assert_close(loss.detach().double(), expected, atol=1e-6, rtol=1e-5)


def test_confident_gradients_match_float64_autograd():
    # Where float64 still resolves p < 1, the float32 gradient must agree with it (not just be finite).
    logits = torch.tensor([[9.0, 0.0, -1.0], [0.0, 3.0, 1.0]])
    target = torch.tensor([0, 1])
    grads = []
    for dtype in (torch.float32, torch.float64):
        x = logits.to(dtype).clone().requires_grad_(True)
        p = x.softmax(1)[torch.arange(2), target]
        FocalLoss(gamma=0.5)(x, target).backward()
        grads.append(x.grad)
        torch.testing.assert_close(FocalLoss(gamma=0.5, reduction="none")(x.detach(), target),
                                   -((1 - p.detach()) ** 0.5) * p.detach().log())
    torch.testing.assert_close(grads[0], grads[1].float(), atol=1e-6, rtol=1e-4)


def test_matches_the_formula_for_fractional_gamma(batch):
    logits, target = batch
    p = logits.softmax(dim=1)[torch.arange(16), target]
    expected = -((1 - p) ** 0.5) * p.log()
    torch.testing.assert_close(FocalLoss(gamma=0.5, reduction="none")(logits, target), expected)


def test_gamma_zero_with_alpha_is_weighted_cross_entropy(batch):
    logits, target = batch
    weights = torch.tensor([0.2, 2.0, 1.0, 0.7, 3.0])
    for reduction in ("mean", "sum", "none"):
        torch.testing.assert_close(FocalLoss(gamma=0, alpha=weights, reduction=reduction)(logits, target),
                                   F.cross_entropy(logits, target, weight=weights, reduction=reduction))


def test_alpha_must_have_one_weight_per_class(batch):
    logits, target = batch  # 5 classes
    with pytest.raises(ValueError, match=r"alpha has 3 weights but the logits have 5 classes"):
        FocalLoss(alpha=torch.tensor([1.0, 2.0, 3.0]))(logits, target)
    with pytest.raises(ValueError, match=r"alpha must hold one weight per class"):
        FocalLoss(alpha=torch.ones(5, 1))


@pytest.mark.parametrize("ignore_index", [-100, 2, -1])
def test_ignore_index_is_left_out_like_cross_entropy(batch, ignore_index):
    logits, target = batch
    target = target.clone()
    target[::3] = ignore_index
    weights = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0])
    for alpha in (None, weights):
        for reduction in ("mean", "sum", "none"):
            got = FocalLoss(gamma=0, alpha=alpha, reduction=reduction, ignore_index=ignore_index)(logits, target)
            expected = F.cross_entropy(logits, target, weight=alpha, reduction=reduction, ignore_index=ignore_index)
            torch.testing.assert_close(got, expected)
    # and with gamma > 0: the mean over the kept samples of the per-sample loss
    keep = target != ignore_index
    per_sample = FocalLoss(gamma=2, reduction="none", ignore_index=ignore_index)(logits, target)
    assert (per_sample[~keep] == 0).all()
    torch.testing.assert_close(FocalLoss(gamma=2, ignore_index=ignore_index)(logits, target),
                               FocalLoss(gamma=2)(logits[keep], target[keep]))


def test_default_ignore_index_matches_cross_entropy(batch):
    logits, target = batch
    target = target.clone()
    target[0] = -100
    torch.testing.assert_close(FocalLoss(gamma=0)(logits, target), nn.CrossEntropyLoss()(logits, target))


@pytest.mark.parametrize("bad", [5, 7, -1])
def test_target_out_of_range_is_named(batch, bad):
    logits, target = batch  # 5 classes
    target = target.clone()
    target[4] = bad
    with pytest.raises(ValueError, match=rf"target holds {bad}, outside \[0, 5\)"):
        FocalLoss()(logits, target)


def test_rejects_integer_logits_and_nan_gamma(batch):
    _, target = batch
    with pytest.raises(TypeError, match="floating point"):
        FocalLoss()(torch.zeros(16, 5, dtype=torch.int64), target)
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(gamma=float("nan"))
