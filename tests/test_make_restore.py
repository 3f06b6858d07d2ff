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
    subprocess.run(["git", "-C", str(clone), "add", "notebooks/05_losses.ipynb"], check=True)   # staged, too
    copy = clone / "notebooks" / "05_losses-Copy1.ipynb"        # what JupyterLab's Duplicate makes
    copy.write_text(committed)
    assert "every notebook is as committed" not in make(clone, "restore")
    assert notebook.read_text() == committed and not copy.exists()
    kept = sorted((clone / "notebooks" / "my-work").glob("05_losses-*.ipynb"))
    assert len(kept) == 2 and sum('"edited": 1' in k.read_text() for k in kept) == 1
    status = subprocess.run(["git", "-C", str(clone), "status", "--porcelain", "--", "notebooks"],
                            capture_output=True, text=True).stdout
    assert status == ""                                     # my-work/ is ignored, nothing else changed
    assert "every notebook is as committed" in make(clone, "restore")


def test_restore_outside_a_git_clone_says_what_it_needs(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    result = subprocess.run(["make", "--no-print-directory", "-C", str(tmp_path), "restore"], capture_output=True,
                            text=True)
    assert result.returncode != 0 and "needs a git clone" in result.stdout
