"""Drills: hostile bundles are refused with a clear error, and one run cannot change what another gets.

The cache-poisoning drill is a real run: the poisoner's command, with the environment a phase
gets, rewrites every archive of the runner's bundle cache and leaves a changed file in its own
workspace; the victim's next run still gets exactly its own bytes and passes.
"""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path
from typing import Any, NoReturn

import pytest
from testgenie.errors import ValidationError
from testgenie.orchestrator.phases.base import LogBuffer
from testgenie.orchestrator.phases.process import run_command
from testgenie.orchestrator.run.workspace import command_environment, fresh_workspace
from testgenie.orchestrator.sources.bundles import (
    MAX_EXTRACTED_BYTES,
    BundleCache,
    BundleFetchError,
    BundleRef,
    UnsafeArchiveError,
    bundle_digest,
    pack_folder,
)

from tests.drills.hostile import zip_bomb


def _open(ref: BundleRef, execution_id: str, *, cache: BundleCache, parent: Path) -> None:
    with fresh_workspace(ref, execution_id, cache=cache, parent=parent):
        pass


def _publish(tmp_path: Path, name: str, data: bytes) -> BundleRef:
    path = tmp_path / "bucket" / f"{name}.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return BundleRef(url=path.as_uri(), sha256=bundle_digest(data), size_bytes=len(data))


def test_a_199_kib_zip_bomb_is_refused_before_it_is_written(tmp_path: Path) -> None:
    bomb = zip_bomb()
    assert len(bomb) < 250 * 1024  # about 199 KiB on the wire
    ref = _publish(tmp_path, "bomb", bomb)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(UnsafeArchiveError, match=f"expands to more than {MAX_EXTRACTED_BYTES // 2**20} MiB"):
        _open(ref, "x", cache=BundleCache(tmp_path / "cache"), parent=work)
    assert list(work.iterdir()) == []  # nothing extracted, nothing left behind


def test_a_link_chain_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, target in (("docs", "step1"), ("step1", "step2"), ("step2", "../../../etc")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    ref = _publish(tmp_path, "chain", buffer.getvalue())
    with pytest.raises(UnsafeArchiveError, match=r"'docs' is a symbolic link \(-> 'step1'\)"):
        _open(ref, "x", cache=BundleCache(tmp_path / "cache"), parent=tmp_path)


def test_too_many_members_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for index in range(30):
            tar.addfile(tarfile.TarInfo(f"f{index}"), io.BytesIO(b""))
    ref = _publish(tmp_path, "many", buffer.getvalue())
    from testgenie.orchestrator.sources.bundles import BundleLimits

    cache = BundleCache(tmp_path / "cache", BundleLimits(members=20))
    with pytest.raises(UnsafeArchiveError, match="more than 20 members"):
        _open(ref, "x", cache=cache, parent=tmp_path)


def _scenario(tmp_path: Path, name: str, text: str) -> bytes:
    folder = tmp_path / "src" / name
    (folder / ".testgenie").mkdir(parents=True)
    (folder / ".testgenie" / "testing.json").write_text("{}")
    (folder / "answer.txt").write_text(text)
    return pack_folder(folder)


def _run(workspace: Any, command: str) -> tuple[bool, str]:
    log = LogBuffer()
    env = command_environment(workspace, "run", {})
    result = run_command(
        command, cwd=workspace.scenario_dir, env=env, deadline=time.monotonic() + 60, log=log
    )
    return result.ok, log.getvalue().decode()


def test_a_poisoned_cache_does_not_change_the_next_run_of_another_scenario(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    victim = _publish(tmp_path, "victim", _scenario(tmp_path, "victim", "genuine"))
    poisoner = _publish(tmp_path, "poisoner", _scenario(tmp_path, "poisoner", "x"))
    check = 'test "$(cat answer.txt)" = genuine'

    with fresh_workspace(victim, "v1", cache=BundleCache(cache_dir), parent=tmp_path) as workspace:
        assert _run(workspace, check)[0]
        first_copy = workspace.scenario_dir

    poison = (
        f"for f in {cache_dir}/*.tar.gz; do printf 'poisoned' > \"$f\"; done; "
        f"printf poisoned > answer.txt; ls {cache_dir}"
    )
    with fresh_workspace(poisoner, "p1", cache=BundleCache(cache_dir), parent=tmp_path) as workspace:
        ok, log = _run(workspace, poison)
        assert ok, log
    assert all(p.read_bytes() == b"poisoned" for p in cache_dir.glob("*.tar.gz"))  # the attack landed

    cache = BundleCache(cache_dir)
    with fresh_workspace(victim, "v2", cache=cache, parent=tmp_path) as workspace:
        assert workspace.scenario_dir != first_copy
        ok, log = _run(workspace, check)
        assert ok, log
    assert cache.downloads == 1  # the poisoned copy was detected and fetched again


def test_a_bundle_that_changed_after_planning_is_refused(tmp_path: Path) -> None:
    ref = _publish(tmp_path, "demo", _scenario(tmp_path, "demo", "v1"))
    (tmp_path / "bucket" / "demo.tar.gz").write_bytes(_scenario(tmp_path, "demo2", "v2"))
    with pytest.raises(BundleFetchError, match="does not match its digest"):
        _open(ref, "x", cache=BundleCache(tmp_path / "cache"), parent=tmp_path)


def _pax_bomb(header_bytes: int = 64 * 1024) -> bytes:
    """A tiny .tar.gz whose one member has a pax header of `header_bytes` (CVE-2024-6232's shape)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("README.md")
        info.pax_headers = {"comment": "x" * header_bytes}
        tar.addfile(info, io.BytesIO(b""))
    return buffer.getvalue()


def test_an_oversized_pax_header_is_refused_before_tarfile_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    bomb = _pax_bomb()
    assert len(bomb) < 2048
    opened: list[object] = []

    def refuse(*args: object, **kwargs: object) -> NoReturn:
        opened.append(args)
        pytest.fail("tarfile")

    monkeypatch.setattr(tarfile, "open", refuse)  # the module bundles.py opens archives with
    ref = _publish(tmp_path, "pax", bomb)
    with pytest.raises(UnsafeArchiveError, match=r"an extended header of \d+ bytes \(at most 8192\)"):
        _open(ref, "x", cache=BundleCache(tmp_path / "cache"), parent=tmp_path)
    assert opened == []


def test_the_coordinator_plans_from_a_bundle_without_tarfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tarfile as tarfile_module

    from testgenie.orchestrator.sources.s3 import write_planning_files

    folder = tmp_path / "src" / "demo"
    (folder / ".testgenie" / "phases").mkdir(parents=True)
    (folder / ".testgenie" / "testing.json").write_text('{"phases": {}}')
    (folder / ".testgenie" / "phases" / "test-smoke.sh").write_text("true\n")
    (folder / "secret.py").write_text("never written by the coordinator\n")
    data, bomb = pack_folder(folder), _pax_bomb()
    monkeypatch.setattr(tarfile_module, "open", lambda *a, **k: pytest.fail("the coordinator opened tarfile"))
    dest = tmp_path / "plan"
    dest.mkdir()
    write_planning_files(data, dest, "demo")
    written = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert written == [".testgenie/phases/test-smoke.sh", ".testgenie/testing.json"]
    with pytest.raises(ValidationError, match="an extended header of"):
        write_planning_files(bomb, dest, "demo")
