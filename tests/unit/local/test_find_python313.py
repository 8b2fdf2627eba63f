"""`make build` finds a python3.13 (PATH, then pyenv's versions) or stops at once saying what to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tools import missing_tool

REPO_ROOT = Path(__file__).resolve().parents[3]
FINDER = REPO_ROOT / "local" / "find-python3.13"


def _finder(path: str, pyenv_root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path, "PYENV_ROOT": str(pyenv_root)}
    return subprocess.run([str(FINDER)], env=env, capture_output=True, text=True, timeout=60, check=False)


def _not_313_on_path(tmp_path: Path) -> Path:
    """A folder whose python3 and python3.13 are this (3.11 or 3.12) interpreter, as a wrong shim would be."""
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    for name in ("python3", "python3.13"):
        (fake / name).symlink_to(sys.executable)
    return fake


@pytest.mark.skipif(sys.version_info[:2] == (3, 13), reason="needs an interpreter that is not 3.13")
def test_make_build_stops_at_once_naming_what_to_install(tmp_path: Path) -> None:
    fake = _not_313_on_path(tmp_path)
    if _finder("/usr/bin:/bin", tmp_path / "no-pyenv").returncode == 0:
        pytest.skip("this machine has a system python3.13")
    env = {**os.environ, "PATH": f"{fake}:/usr/bin:/bin", "PYENV_ROOT": str(tmp_path / "no-pyenv")}
    done = subprocess.run(
        ["make", "-s", "-C", str(REPO_ROOT), "build"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "error: make build needs Python 3.13" in done.stderr
    assert "pyenv install 3.13" in done.stderr
    assert "sam" not in done.stdout  # stopped before the tools or the build started


def test_a_pyenv_313_is_found_when_path_has_none(tmp_path: Path) -> None:
    real = _finder(os.environ["PATH"], Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")))
    if real.returncode != 0:
        missing_tool("Python 3.13 (.ci/run installs one with pyenv)")
    versions = tmp_path / "pyenv" / "versions" / "3.13.99" / "bin"
    versions.mkdir(parents=True)
    (versions / "python3.13").symlink_to(Path(real.stdout.strip()) / "python3.13")
    found = _finder(f"{_not_313_on_path(tmp_path)}:/usr/bin:/bin", tmp_path / "pyenv")
    assert (found.returncode, found.stdout.strip()) == (0, str(versions))
