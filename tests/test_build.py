"""data/build.py: refuses bad inputs, naming them, and rebuilds the committed data exactly."""

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import PIL
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "datasets"

spec = importlib.util.spec_from_file_location("build", ROOT / "data" / "build.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)


def run_build(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "data" / "build.py"), *args],
                          capture_output=True, text=True)


def test_missing_archive_is_named(tmp_path):
    result = run_build("--source", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert f"input archive not found: {tmp_path}/hymenoptera_data.tar.gz" in result.stderr
    assert not (tmp_path / "out" / "hymenoptera").exists()


def test_altered_archive_is_named_and_existing_data_kept(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "hymenoptera_data.tar.gz").write_bytes(b"not the real archive")
    out = tmp_path / "out"
    (out / "hymenoptera").mkdir(parents=True)
    (out / "hymenoptera" / "keep.txt").write_text("previous build")
    result = run_build("--source", str(source), "--out", str(out))
    assert result.returncode == 1
    assert f"checksum mismatch for {source}/hymenoptera_data.tar.gz" in result.stderr
    assert (out / "hymenoptera" / "keep.txt").read_text() == "previous build"


def test_missing_class_folder_in_archive_is_named():
    files = {f"train/{c}/0000.jpg": b"" for c in build.CIFAR10_CLASSES if c != "cat"}
    with pytest.raises(build.BuildError, match=r"class folder train/cat/ is missing or empty"):
        build.by_class(files, "train", build.CIFAR10_CLASSES, Path("cifar10-jpg.tar.gz"))


def test_unreadable_archive_is_named(tmp_path):
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(build.BuildError, match=r"cannot read .*broken\.tar\.gz"):
        build.read_members(broken)


def manifest(path: Path) -> dict[str, str]:
    return {name: digest for digest, name in (line.split("  ", 1) for line in path.read_text().splitlines())}


@pytest.mark.skipif(not SOURCE.is_dir(), reason=f"source archives not found in {SOURCE}")
def test_rebuild_reproduces_the_committed_data(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    shutil.copy(ROOT / "data" / "README.md", out / "README.md")
    if (ROOT / "data" / "pretrained").is_dir():          # kept by the build (listed, counted), not made by it
        shutil.copytree(ROOT / "data" / "pretrained", out / "pretrained")
    result = run_build("--source", str(SOURCE), "--out", str(out))
    assert result.returncode == 0, result.stderr
    rebuilt, committed = manifest(out / "SHA256SUMS"), manifest(ROOT / "data" / "SHA256SUMS")
    assert rebuilt.keys() == committed.keys()
    differing = sorted(name for name in rebuilt if rebuilt[name] != committed[name])
    readme = (ROOT / "data" / "README.md").read_text()
    recorded = re.search(r"Built with Pillow (\S+):", readme).group(1)
    if PIL.__version__ == recorded:
        assert differing == [], differing[:5]
        assert (out / "README.md").read_text() == readme
    else:
        # Another Pillow may encode the resized photos differently; every copied file (all of
        # CIFAR-mini, the small photos, the GIF) must still match byte for byte.
        originals = build.read_members(SOURCE / "hymenoptera_data.tar.gz")
        for name in differing:
            assert name.startswith("hymenoptera/"), name
            member = name.removeprefix("hymenoptera/")
            assert originals[member] != (ROOT / "data" / name).read_bytes(), f"{name} was copied, yet differs"
