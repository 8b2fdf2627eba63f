"""Who the local runner runs as: nobody when the stack is root, else the stack's user (not isolated)."""

from __future__ import annotations

import getpass
import os
import pwd

import pytest
from testgenie_local.runner_host import RUNNER_USER, runner_identity
from testgenie_local.stack import NOT_ISOLATED


def test_as_root_the_runner_is_nobody(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    identity = runner_identity()
    nobody = pwd.getpwnam(RUNNER_USER)
    assert (identity.user, identity.uid, identity.gid) == (RUNNER_USER, nobody.pw_uid, nobody.pw_gid)
    assert identity.isolated


def test_as_another_user_the_runner_is_that_user_and_not_isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    identity = runner_identity()
    assert identity.uid is None
    assert not identity.isolated
    message = NOT_ISOLATED.format(user=identity.user)
    assert message.startswith("warning: local runs are not isolated")
    assert getpass.getuser() in message
