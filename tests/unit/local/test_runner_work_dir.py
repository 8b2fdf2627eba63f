"""Where the local runner's environments work: memory-backed /dev/shm when it has room, else disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from testgenie_local import runner_host
from testgenie_local.runner_host import WORK_DIR_ENV, work_parent


def test_a_writable_shm_with_room_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORK_DIR_ENV, raising=False)
    monkeypatch.setattr(runner_host, "_SHM", str(tmp_path))
    monkeypatch.setattr(runner_host, "_SHM_MIN_FREE_BYTES", 1)
    assert work_parent(tmp_path / "disk") == tmp_path


def test_without_shm_or_room_the_disk_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORK_DIR_ENV, raising=False)
    monkeypatch.setattr(runner_host, "_SHM", str(tmp_path / "missing"))
    assert work_parent(tmp_path / "disk") == tmp_path / "disk"
    monkeypatch.setattr(runner_host, "_SHM", str(tmp_path))
    monkeypatch.setattr(runner_host, "_SHM_MIN_FREE_BYTES", 1 << 62)  # more than any disk holds
    assert work_parent(tmp_path / "disk") == tmp_path / "disk"


def test_the_variable_names_the_folder_or_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner_host, "_SHM", str(tmp_path))
    monkeypatch.setattr(runner_host, "_SHM_MIN_FREE_BYTES", 1)
    monkeypatch.setenv(WORK_DIR_ENV, str(tmp_path / "elsewhere"))
    assert work_parent(tmp_path / "disk") == tmp_path / "elsewhere"
    monkeypatch.setenv(WORK_DIR_ENV, "")
    assert work_parent(tmp_path / "disk") == tmp_path / "disk"
