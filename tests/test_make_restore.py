"""`make restore` puts the committed notebooks back and keeps the learner's changed copies."""

from __future__ import annotations

import shutil
import subprocess

from browser import ROOT


def make(folder, *args):
    return subprocess.run(["make", "--no-print-directory", "-C", str(folder), *args], capture_output=True, text=True,
                          check=True).stdout


def test_restore_keeps_a_copy_of_each_changed_notebook_and_puts_back_the_committed_one(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    shutil.copy(ROOT / "Makefile", clone / "Makefile")          # the Makefile as it is now, committed or not
    notebook = clone / "notebooks" / "05_losses.ipynb"
    committed = notebook.read_text()
    notebook.write_text(committed.replace('"cell_type": "markdown"', '"cell_type": "markdown", "edited": 1', 1))
    assert "every notebook is as committed" not in make(clone, "restore")
    assert notebook.read_text() == committed
    kept = list((clone / "notebooks" / "my-work").glob("05_losses-*.ipynb"))
    assert len(kept) == 1 and '"edited": 1' in kept[0].read_text()
    status = subprocess.run(["git", "-C", str(clone), "status", "--porcelain", "--", "notebooks"],
                            capture_output=True, text=True).stdout
    assert status == ""                                     # my-work/ is ignored, nothing else changed
    assert "every notebook is as committed" in make(clone, "restore")
