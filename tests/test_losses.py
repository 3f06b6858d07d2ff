import pytest
import torch
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
