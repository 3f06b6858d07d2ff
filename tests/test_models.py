import pytest
import torch
from torch import nn

from helpers.models import CifarResNet, ResidualBlock, SmallCNN, count_parameters


def conv_params(c_in, c_out, k, bias=True):
    return c_in * c_out * k * k + (c_out if bias else 0)


def bn_params(c):
    return 2 * c


def test_small_cnn_shape_and_parameter_count():
    model = SmallCNN()
    assert model(torch.zeros(4, 3, 32, 32)).shape == (4, 10)
    expected = (conv_params(3, 32, 3) + bn_params(32) + conv_params(32, 64, 3) + bn_params(64)
                + conv_params(64, 128, 3) + bn_params(128) + (128 * 16 * 10 + 10))
    assert count_parameters(model) == expected == 114_186  # the quickstart's model


def test_small_cnn_width_and_classes():
    model = SmallCNN(num_classes=2, width=8)
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 2)
    assert model.classifier[-1].in_features == 32 * 16


def test_residual_block_identity_and_projection_shortcuts():
    same = ResidualBlock(16, 16)
    assert isinstance(same.shortcut, nn.Identity)
    assert same(torch.zeros(2, 16, 8, 8)).shape == (2, 16, 8, 8)
    down = ResidualBlock(16, 32, stride=2)
    assert isinstance(down.shortcut, nn.Sequential)
    assert down(torch.zeros(2, 16, 8, 8)).shape == (2, 32, 4, 4)
    assert count_parameters(down) == (conv_params(16, 32, 3, False) + bn_params(32) + conv_params(32, 32, 3, False)
                                      + bn_params(32) + conv_params(16, 32, 1, False) + bn_params(32))


def test_residual_block_adds_the_shortcut():
    block = ResidualBlock(4, 4).eval()
    for p in block.left.parameters():
        nn.init.zeros_(p)  # f(x) = 0 (BatchNorm's weight and bias too), so the block is relu(x)
    x = torch.randn(1, 4, 5, 5)
    torch.testing.assert_close(block(x), torch.relu(x))


@pytest.mark.parametrize("blocks", [(1, 1, 1), (3, 3, 3)])
def test_cifar_resnet_shapes_and_counts(blocks):
    model = CifarResNet(blocks=blocks)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert model(torch.zeros(1, 3, 64, 48)).shape == (1, 10)  # adaptive pooling: any size
    stem = conv_params(3, 16, 3, False) + bn_params(16)
    def block(c_in, c_out):
        proj = conv_params(c_in, c_out, 1, False) + bn_params(c_out) if c_in != c_out else 0
        return conv_params(c_in, c_out, 3, False) + conv_params(c_out, c_out, 3, False) + 2 * bn_params(c_out) + proj
    n = blocks[0]
    expected = (stem + n * block(16, 16) + block(16, 32) + (n - 1) * block(32, 32) + block(32, 64)
                + (n - 1) * block(64, 64) + 64 * 10 + 10)
    assert count_parameters(model) == expected
    if blocks == (3, 3, 3):
        assert round(count_parameters(model) / 1e6, 2) == 0.27  # ResNet-20's 0.27 M


def test_cifar_resnet_every_parameter_gets_a_gradient():
    model = CifarResNet()
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_cifar_resnet_rejects_mismatched_stages():
    with pytest.raises(ValueError, match="one entry per stage"):
        CifarResNet(widths=(16, 32), blocks=(1,))


def test_count_parameters_trainable_only():
    model = SmallCNN()
    model.features.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == 128 * 16 * 10 + 10


# The keys a 32x32 SmallCNN has always had: checkpoints saved before in_channels and the
# adaptive pooling existed must still load.
SMALL_CNN_KEYS = [
    f"features.{b}.{layer}.{name}"
    for b in range(3)
    for layer, names in ((0, ("weight", "bias")),
                         (1, ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")))
    for name in names
] + ["classifier.2.weight", "classifier.2.bias"]


def test_small_cnn_state_dict_keys_are_unchanged():
    assert list(SmallCNN().state_dict()) == SMALL_CNN_KEYS
    assert list(SmallCNN(in_channels=1).state_dict()) == SMALL_CNN_KEYS
    SmallCNN().load_state_dict(SmallCNN().state_dict())  # strict


def test_small_cnn_on_32x32_is_features_then_classifier():
    torch.manual_seed(0)
    model = SmallCNN().eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = model.classifier(model.features(x))
        assert torch.equal(model(x), expected)


def test_small_cnn_pools_other_sizes_to_4x4():
    torch.manual_seed(0)
    model = SmallCNN(width=4).eval()
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        expected = model.classifier(nn.AdaptiveAvgPool2d(4)(model.features(x)))  # (2, 16, 8, 6) -> (2, 16, 4, 4)
        torch.testing.assert_close(model(x), expected)


@pytest.mark.parametrize("make", [SmallCNN, CifarResNet])
@pytest.mark.parametrize("channels, size", [(1, 28), (3, 64), (1, 8), (3, 37)])
def test_models_take_other_channels_and_sizes(make, channels, size):
    model = make(num_classes=7, in_channels=channels)
    out = model(torch.randn(2, channels, size, size))
    assert out.shape == (2, 7)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_in_channels_sets_the_first_convolution():
    assert SmallCNN(in_channels=1).features[0][0].in_channels == 1
    assert CifarResNet(in_channels=1).stem[0].in_channels == 1
    assert count_parameters(SmallCNN(in_channels=1)) == count_parameters(SmallCNN()) - 2 * 32 * 3 * 3


@pytest.mark.parametrize("make", [SmallCNN, CifarResNet])
def test_wrong_channel_count_is_named(make):
    expected = r"expects images of shape \(B, 1, H, W\).*3 channels instead of in_channels=1"
    with pytest.raises(ValueError, match=expected):
        make(in_channels=1)(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match=r"expects images of shape \(B, 3, H, W\).*unsqueeze\(0\)"):
        make()(torch.zeros(3, 32, 32))


def test_small_cnn_rejects_images_below_8x8():
    SmallCNN()(torch.zeros(1, 3, 8, 8))
    for shape in ((1, 3, 7, 7), (1, 3, 32, 4)):
        with pytest.raises(ValueError, match=r"\(B, 3, H, W\) with H, W >= 8.*too small"):
            SmallCNN()(torch.zeros(shape))


@pytest.mark.parametrize("make, kwargs, name", [
    (SmallCNN, {"num_classes": 0}, "num_classes"),
    (SmallCNN, {"width": 0}, "width"),
    (SmallCNN, {"in_channels": 0}, "in_channels"),
    (CifarResNet, {"blocks": (1, 0, 1)}, r"blocks\[1\]"),
    (CifarResNet, {"widths": (16, 0, 64)}, r"widths\[1\]"),
    (CifarResNet, {"num_classes": 0}, "num_classes"),
    (ResidualBlock, {"c_in": 4, "c_out": 0}, "c_out"),
])
def test_sizes_below_one_are_refused(make, kwargs, name):
    # nn.Conv2d and nn.Linear accept 0 and build an empty model; blocks=0 used to build one block anyway.
    with pytest.raises(ValueError, match=rf"{name} must be >= 1, got 0"):
        make(**kwargs)
