"""When the stack may start its runner: in bubblewrap, or without a sandbox only when told so."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from testgenie_local import sandbox
from testgenie_local.sandbox import Sandbox, SandboxUnavailable, choose_sandbox


def test_without_bubblewrap_the_stack_refuses_and_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(SandboxUnavailable) as refused:
        choose_sandbox(network="none")
    assert "bubblewrap (bwrap) is not installed" in str(refused.value)
    assert "make sandbox" in str(refused.value)
    assert "--unsafe-shared-runner" in str(refused.value)


def test_unsafe_shared_runner_runs_without_a_sandbox_and_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    said: list[str] = []
    chosen = choose_sandbox(unsafe_shared=True, network="none", say=said.append)
    assert chosen.kind == "shared"
    assert not chosen.isolated
    assert said
    assert said[0].startswith("warning: --unsafe-shared-runner")


def test_a_sandbox_that_cannot_start_is_refused_with_bwraps_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: "/usr/bin/bwrap")
    monkeypatch.setattr(sandbox, "_probe", lambda _bwrap, _uid: "No permissions to create new namespace")
    with pytest.raises(SandboxUnavailable, match="No permissions to create new namespace"):
        choose_sandbox(network="none")


def test_runner_network_host_warns_and_a_wrong_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: "/usr/bin/bwrap")
    monkeypatch.setattr(sandbox, "_probe", lambda _bwrap, _uid: None)
    said: list[str] = []
    chosen = choose_sandbox(network="host", say=said.append)
    assert chosen.isolated
    assert not chosen.offline
    assert said
    assert said[0].startswith("warning: RUNNER_NETWORK=host")
    with pytest.raises(SandboxUnavailable, match="RUNNER_NETWORK must be 'none' or 'host'"):
        choose_sandbox(network="bridge")


def test_the_sandbox_command_has_its_own_namespaces_and_a_read_only_root() -> None:
    argv = Sandbox("bubblewrap").command(["python"], read_only=[], hostname="runner")
    assert "--unshare-all" in argv
    assert "--share-net" not in argv
    assert argv[argv.index("--remount-ro") + 1] == "/"
    assert "--die-with-parent" in argv
    assert argv[-1] == "python"
    assert "--share-net" in Sandbox("bubblewrap", network="host").command(["x"], read_only=[], hostname="r")


def test_a_runner_python_whose_tarfile_has_cve_2024_6232_is_refused(tmp_path: Path) -> None:
    from testgenie_local.runner_venv import tarfile_problem

    fixed = tmp_path / "fixed"
    fixed.write_text("#!/bin/sh\nexit 0\n")
    vulnerable = tmp_path / "vulnerable"
    vulnerable.write_text('#!/bin/sh\ncase "$2" in *version_info*) echo 3.11.7;; *) exit 3;; esac\n')
    for script in (fixed, vulnerable):
        script.chmod(0o755)
    assert tarfile_problem(fixed) is None
    problem = tarfile_problem(vulnerable)
    assert problem is not None
    assert "(3.11.7) has CVE-2024-6232" in problem
    assert tarfile_problem(sys.executable) is None or sys.version_info < (3, 13)
