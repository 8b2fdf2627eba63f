"""Clean Python 3.13 venvs (the Lambda runtime's version) holding only what a deployment holds: built
once per requirements digest under /var/tmp, under a lock, so parallel sessions share them."""

from __future__ import annotations

import fcntl
import glob
import hashlib
import subprocess
from pathlib import Path

from tests.support.tools import unless_tool

PYTHON_313 = sorted(glob.glob("/root/.pyenv/versions/3.13.*/bin/python")) or sorted(
    glob.glob("/usr/bin/python3.13")
)
needs_python_313 = unless_tool(
    bool(PYTHON_313), "a Python 3.13 interpreter (.ci/run installs one with pyenv)"
)


def clean_venv(name: str, requirements: list[Path], packages: tuple[str, ...] = ()) -> str:
    """The interpreter of a venv with `requirements` (files) and `packages` installed, nothing else."""
    base = PYTHON_313[-1]
    lines = [line.strip() for p in requirements for line in p.read_text().splitlines()]
    wanted = sorted({line for line in lines if line and not line.startswith("#")} | set(packages))
    spec = "\n".join([*wanted, base]).encode()  # the same packages: the same venv, whatever the files say
    venv = Path("/var/tmp/testgenie") / f"{name}-{hashlib.sha256(spec).hexdigest()[:12]}"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f".{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").exists():
            subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
            pip = [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ]
            subprocess.run([*pip, *(a for p in requirements for a in ("-r", str(p))), *packages], check=True)
            (venv / ".complete").touch()
    return str(venv / "bin" / "python")
