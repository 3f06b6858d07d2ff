import matplotlib

matplotlib.use("Agg")  # this process only; notebook kernels keep their inline backend

import matplotlib.pyplot as plt
import pytest
import torch
from torchvision.transforms import v2

from helpers.plot import denormalize, plot_history, show_image_grid

MEAN, STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_denormalize_undoes_torchvision_normalize():
    images = torch.rand(4, 3, 8, 8)
    normalized = v2.Normalize(MEAN, STD)(images)
    torch.testing.assert_close(denormalize(normalized, MEAN, STD), images)
    torch.testing.assert_close(denormalize(normalized[0], MEAN, STD), images[0])


def test_denormalize_clamps_and_checks_channels():
    assert denormalize(torch.full((3, 2, 2), 100.0), MEAN, STD).max() == 1
    with pytest.raises(ValueError, match="3 values"):
        denormalize(torch.rand(3, 2, 2), (0.5,), (0.5,))
    with pytest.raises(ValueError, match="shape"):
        denormalize(torch.rand(2, 2), MEAN, STD)


def test_grid_titles_show_prediction_and_truth_in_colour():
    images = torch.rand(5, 3, 8, 8)
    fig = show_image_grid(images, labels=[0, 1, 2, 0, 1], class_names=["a", "b", "c"],
                          preds=[0, 2, 2, 0, 0], ncols=3)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in titled] == ["a (a)", "c (b)", "c (c)", "a (a)", "a (b)"]
    assert [ax.title.get_color() for ax in titled] == ["green", "red", "green", "green", "red"]
    assert len(fig.axes) == 6  # a 2 x 3 grid, the last cell empty


def test_grid_accepts_uint8_grayscale_and_lists_of_sizes():
    fig = show_image_grid([torch.randint(0, 256, (1, 5, 5), dtype=torch.uint8),
                           torch.rand(3, 7, 9)], labels=torch.tensor([3, 4]))
    assert [ax.get_title() for ax in fig.axes] == ["3", "4"]


def test_grid_denormalizes_what_it_shows():
    images = torch.rand(2, 3, 4, 4)
    fig = show_image_grid(v2.Normalize(MEAN, STD)(images), mean=MEAN, std=STD)
    shown = torch.tensor(fig.axes[0].images[0].get_array().data)
    torch.testing.assert_close(shown, images[0].permute(1, 2, 0))


def test_grid_rejects_mismatched_input():
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        show_image_grid(torch.rand(2, 3, 4, 4), labels=[0, 1, 2])
    with pytest.raises(ValueError, match="both mean and std"):
        show_image_grid(torch.rand(2, 3, 4, 4), mean=MEAN)
    with pytest.raises(ValueError, match="at least one"):
        show_image_grid([])


def test_plot_history_draws_loss_and_accuracy_panels():
    history = {"train_loss": [2.0, 1.5, 1.2], "val_loss": [2.1, 1.7, 1.6],
               "train_acc": [0.2, 0.4, 0.5], "val_acc": [0.2, 0.35, 0.4]}
    fig = plot_history(history)
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["train_loss", "val_loss"]
    assert list(acc_ax.lines[1].get_ydata()) == [0.2, 0.35, 0.4]
    assert list(acc_ax.lines[1].get_xdata()) == [1, 2, 3]
    with pytest.raises(ValueError, match="no loss or accuracy"):
        plot_history({"lr": [0.1]})


def test_show_rows_lays_out_labelled_rows():
    from PIL import Image

    from helpers.plot import show_rows

    fig = show_rows({"original": [Image.new("RGB", (8, 6))],
                     "flipped": [torch.rand(3, 6, 8), torch.randint(0, 256, (3, 6, 8), dtype=torch.uint8),
                                 torch.rand(1, 4, 4)]}, titles=["a", "b"])
    axes = fig.axes
    assert len(axes) == 6
    assert axes[0].get_ylabel() == "original" and axes[3].get_ylabel() == "flipped"
    assert [ax.get_title() for ax in axes[:2]] == ["a", "b"]
    assert not axes[1].axison and not axes[2].axison  # the short first row leaves blanks
    with pytest.raises(ValueError):
        show_rows({"empty": []})


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64])
def test_denormalize_refuses_integer_images(dtype):
    # mean and std used to be cast to the integer dtype (0 and 0), giving all-zero images silently
    images = torch.randint(0, 256, (2, 3, 4, 4), dtype=dtype)
    with pytest.raises(TypeError, match=r"floating point.*uint8 image is not normalised.*\.float\(\) / 255"):
        denormalize(images, MEAN, STD)


def test_denormalize_keeps_float_dtypes():
    images = torch.rand(3, 4, 4, dtype=torch.float64)
    normalized = v2.Normalize(MEAN, STD)(images)
    out = denormalize(normalized, MEAN, STD)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, images)


def test_grid_refuses_mean_and_std_for_uint8_images():
    # image.float() on 0..255 values then * std + mean and a clamp used to show an all-white grid
    images = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    with pytest.raises(TypeError, match="uint8 image is not normalised"):
        show_image_grid(images, mean=MEAN, std=STD)
    assert not plt.get_fignums()  # refused before drawing anything


def test_grid_shows_bfloat16_images():
    images = torch.rand(2, 3, 4, 4)
    fig = show_image_grid(images.bfloat16())
    shown = torch.tensor(fig.axes[0].images[0].get_array().data)
    torch.testing.assert_close(shown, images[0].bfloat16().float().permute(1, 2, 0))


def test_grid_names_bad_image_shapes():
    with pytest.raises(ValueError, match=r"got a tensor of shape \(3, 8, 8\) \(one image\? pass images\[None\]\)"):
        show_image_grid(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match=r"got \(8, 8, 3\) \(channels last\? use image.permute\(2, 0, 1\)\)"):
        show_image_grid(torch.rand(2, 8, 8, 3))
    with pytest.raises(ValueError, match=r"1, 3 or 4 channels, got \(2, 8, 8\)"):
        show_image_grid([torch.rand(3, 8, 8), torch.rand(2, 8, 8)])
    assert not plt.get_fignums()


def test_grid_names_class_indices_outside_class_names():
    with pytest.raises(ValueError, match="labels holds class index 3, but class_names has 3 names"):
        show_image_grid(torch.rand(2, 3, 4, 4), labels=[0, 3], class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="preds holds class index -1"):
        show_image_grid(torch.rand(2, 3, 4, 4), labels=[0, 1], preds=[0, -1], class_names=["a", "b", "c"])
    assert not plt.get_fignums()


def test_show_rows_names_bad_image_shapes():
    from helpers.plot import show_rows

    with pytest.raises(ValueError, match=r"got \(6, 8, 3\) \(channels last"):
        show_rows({"ok": [torch.rand(3, 6, 8)], "bad": [torch.rand(6, 8, 3)]})
    assert not plt.get_fignums()
