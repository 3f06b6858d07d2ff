"""TensorBoard shows what helpers.tensorboard wrote: checked in the system's Chromium (tests/browser.py)."""

from __future__ import annotations

import sys

import pytest
import torch
from browser import free_port, screenshot_path, serve
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.tensorboard import SummaryWriter

from helpers.engine import fit
from helpers.tensorboard import TensorBoardCallback

pytestmark = [pytest.mark.slow, pytest.mark.browser]
TIMEOUT_MS = 30_000
EPOCHS = 4
TAGS = ("loss/train", "loss/val", "accuracy/train", "accuracy/val", "lr")   # what the callback's docs promise


def write_run(log_dir):
    """A short fit logged by the callback, plus one 3 x 20 x 30 image."""
    torch.manual_seed(0)
    x = torch.randn(64, 5)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()     # learnable: the curves go somewhere
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    with SummaryWriter(log_dir) as writer:
        fit(model, loader, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.5), "cpu", EPOCHS,
            callbacks=[TensorBoardCallback(writer)], progress=False, verbose=False)
        writer.add_image("samples/first", torch.rand(3, 20, 30), global_step=EPOCHS)


@pytest.fixture(scope="module")
def tensorboard(tmp_path_factory):
    logs = tmp_path_factory.mktemp("tb")
    write_run(logs / "browser-test")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logs), "--host", "127.0.0.1",
               "--port", str(port)]
    with serve(command, f"{url}/data/runs", logs / "tensorboard.log", timeout=90):
        yield url


def test_scalars_dashboard_lists_the_logged_tags_and_draws_their_charts(page, tensorboard):
    page.goto(f"{tensorboard}/#scalars")
    # the dashboard groups tags by the part before "/" and may collapse a group; the filter box shows one tag
    search = page.locator("tf-tag-filterer input")
    for tag in TAGS:
        search.fill(f"^{tag}$")
        # the first card is in the "Tags matching" group the filter opens (its own group may show it too)
        card = page.locator("tf-scalar-card").filter(has=page.get_by_text(f"tag: {tag}", exact=True)).first
        card.wait_for(timeout=TIMEOUT_MS)
        # the chart draws the run as an SVG path, "M x,y L x,y ...": one point per logged step
        # (a flat line, such as a constant rate, has no height: it is attached, not "visible")
        card.locator("path.line").first.wait_for(state="attached", timeout=TIMEOUT_MS)
        points = card.locator("path.line").evaluate_all(
            "ps => ps.map(p => (p.getAttribute('d') || '').split(/[ML]/).filter(s => s.trim()).length)")
        assert max(points) == EPOCHS, f"{tag}: the chart's lines have {points} points, not one per epoch ({EPOCHS})"
    search.fill("")
    page.screenshot(path=screenshot_path("tensorboard_scalars"))


def test_images_dashboard_shows_the_logged_image(page, tensorboard):
    page.goto(f"{tensorboard}/#images")
    page.get_by_text("tag: samples/first", exact=True).wait_for(timeout=TIMEOUT_MS)
    image = page.locator("tf-image-loader img")
    image.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                           timeout=TIMEOUT_MS)
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [30, 20]
    page.screenshot(path=screenshot_path("tensorboard_images"))
