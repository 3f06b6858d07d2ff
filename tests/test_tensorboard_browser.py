"""TensorBoard shows what helpers.tensorboard wrote: checked in the system's Chromium (tests/browser.py)."""

from __future__ import annotations

import sys
import time

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
# What the test looks for in TensorBoard's page: its own element names (checked with TensorBoard 2.21).
# A new TensorBoard may rename them; the failure's screenshot in outputs/browser/ shows what it drew instead.
TAG_FILTER = "tf-tag-filterer input"        # the "Filter tags" box of the Scalars dashboard
SCALAR_CARD = "tf-scalar-card"              # one chart; its element's .tag property is the tag it draws
LINE = "path.line"                          # the SVG path a chart draws per run
IMAGE_CARD = "tf-image-loader"              # one image of the Images dashboard, with a .tag property too
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
    # --load_fast=false: the Python reader on every platform (the Rust data server ships for some only)
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logs), "--host", "127.0.0.1",
               "--port", str(port), "--load_fast=false"]
    with serve(command, f"{url}/data/runs", logs / "tensorboard.log", timeout=90, ready_text="browser-test"):
        yield url


def element_for_tag(page, selector, tag):
    """The first element matching ``selector`` whose ``.tag`` property is ``tag`` (its title text varies by loader)."""
    elements = page.locator(selector)
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        tags = elements.evaluate_all("els => els.map(e => e.tag)")
        if tag in tags:
            return elements.nth(tags.index(tag))
        if time.monotonic() > deadline:
            raise AssertionError(f"no {selector} for tag {tag!r} within {TIMEOUT_MS / 1000:.0f} s; found {tags}")
        page.wait_for_timeout(250)


def test_scalars_dashboard_lists_the_logged_tags_and_draws_their_charts(page, tensorboard):
    page.goto(f"{tensorboard}/#scalars")
    # the dashboard groups tags by the part before "/" and may collapse a group; the filter box shows one tag
    search = page.locator(TAG_FILTER)
    for tag in TAGS:
        search.fill(f"^{tag}$")
        card = element_for_tag(page, SCALAR_CARD, tag)
        # the chart draws the run as an SVG path, "M x,y L x,y ...": one point per logged step
        # (a flat line, such as a constant rate, has no height: it is attached, not "visible")
        card.locator(LINE).first.wait_for(state="attached", timeout=TIMEOUT_MS)
        points = card.locator(LINE).evaluate_all(
            "ps => ps.map(p => (p.getAttribute('d') || '').split(/[ML]/).filter(s => s.trim()).length)")
        assert max(points) == EPOCHS, f"{tag}: the chart's lines have {points} points, not one per epoch ({EPOCHS})"
    search.fill("")
    page.screenshot(path=screenshot_path("tensorboard_scalars"))


def test_images_dashboard_shows_the_logged_image(page, tensorboard):
    page.goto(f"{tensorboard}/#images")
    image = element_for_tag(page, IMAGE_CARD, "samples/first").locator("img")
    image.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                           timeout=TIMEOUT_MS)
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [30, 20]
    page.screenshot(path=screenshot_path("tensorboard_images"))
