"""The local runner's interpreter: a venv of its own, holding only the runner's declared packages.

Lambda gives RunnerFunction python3.13 with the CoreLayer and the ToolchainLayer and nothing else;
locally the runner gets a venv built from the system interpreter with exactly
layers/core/requirements.txt + layers/toolchain/requirements.txt, never the project's dev venv, so a
scenario that needs something else fails here as it would on AWS (docs/architecture.md).

It lives under /var/tmp (root's home is mode 700: an unprivileged runner could not reach a venv
there), named by a digest of the requirement files and the interpreter, built once under a file
lock and reused while up to date. `python -m testgenie_local.runner_venv` builds it ahead of time.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_PARENT = Path(os.environ.get("TESTGENIE_RUNNER_VENV_DIR", "/var/tmp/testgenie"))
# The system interpreter: readable by any user (pyenv's live under root's private home).
BASE_PYTHON = os.environ.get("TESTGENIE_RUNNER_PYTHON", "/usr/bin/python3")
_STAMP = ".testgenie-runner-venv"


class RunnerVenvError(Exception):
    pass


def requirement_files(layers: list[Path] | None = None) -> list[Path]:
    """The runner's declared packages: its layers' requirements.txt (default: core and toolchain)."""
    folders = (
        layers if layers is not None else [REPO_ROOT / "layers" / "core", REPO_ROOT / "layers" / "toolchain"]
    )
    return [folder / "requirements.txt" for folder in folders if (folder / "requirements.txt").is_file()]


def _base_python() -> str:
    if Path(BASE_PYTHON).is_file():
        return BASE_PYTHON
    found = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    if not found:
        raise RunnerVenvError(f"no system python3 for the runner venv (looked for {BASE_PYTHON})")
    return found


def _version(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def venv_digest(python: str, files: list[Path]) -> str:
    digest = hashlib.sha256(f"{python}\n{_version(python)}\n".encode())
    for path in files:
        digest.update(path.name.encode() + b"\n" + path.read_bytes() + b"\n")
    return digest.hexdigest()[:12]


def _build(python: str, files: list[Path], target: Path) -> None:
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.building-"))
    try:
        subprocess.run([python, "-m", "venv", str(staging)], check=True, capture_output=True)
        pip = [
            str(staging / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ]
        args = [arg for path in files for arg in ("-r", str(path))]
        done = subprocess.run([*pip, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RunnerVenvError(f"pip could not build the runner venv: {done.stderr.strip()[-2000:]}")
        (staging / _STAMP).write_text("\n".join(str(path) for path in files) + "\n")
        os.chmod(staging, 0o755)  # noqa: S103 - mkdtemp made it private; the runner user must read it
        # Renaming is safe: bin/python finds its venv through pyvenv.cfg next to it (the bin/ scripts
        # keep the staging path, and nothing here uses them).
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# Present in tarfile once CVE-2024-6232 (quadratic pax header parsing) is fixed: 3.11.10, 3.12.6,
# 3.13, and distributions' patched builds of older versions (Debian's 3.11.2-6+deb12u4), which a
# version number would wrongly refuse.
_FIXED_TARFILE_PROBE = (
    "import sys, tarfile; sys.exit(0 if hasattr(tarfile, '_header_length_prefix_re') else 3)"
)


def tarfile_problem(python: Path | str) -> str | None:
    """Why `python`'s tarfile must not read scenario bundles (None: it may)."""
    done = subprocess.run([str(python), "-c", _FIXED_TARFILE_PROBE], capture_output=True, check=False)
    if done.returncode == 0:
        return None
    return (
        f"{python} ({_version(str(python))}) has CVE-2024-6232: its tarfile takes time growing with the "
        "square of a pax header, and the runner extracts untrusted bundles with it; install a fixed "
        "Python (3.11.10+, 3.12.6+, 3.13) and point TESTGENIE_RUNNER_PYTHON at it"
    )


def ensure_runner_venv(layers: list[Path] | None = None, say: Callable[[str], None] | None = None) -> Path:
    """The runner venv's python for these layers, built when missing or out of date (safe to call
    concurrently); `python -m pip` of the venv installs exactly the layers' requirements."""
    python = _base_python()
    files = requirement_files(layers)
    if not files:
        raise RunnerVenvError("the runner's layers declare no requirements.txt")
    target = VENV_PARENT / f"runner-venv-{venv_digest(python, files)}"
    runner_python = target / "bin" / "python"
    if (target / _STAMP).is_file():
        return runner_python
    VENV_PARENT.mkdir(parents=True, exist_ok=True)
    os.chmod(VENV_PARENT, 0o755)  # noqa: S103 - the unprivileged runner must reach the venv (and nothing more)
    with (VENV_PARENT / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / _STAMP).is_file():
            if say is not None:
                say(f"building the runner's venv {target} (once; {', '.join(p.name for p in files)})")
            shutil.rmtree(target, ignore_errors=True)
            _build(python, files, target)
    return runner_python


def main() -> int:
    try:
        path = ensure_runner_venv(say=lambda line: print(line, file=sys.stderr))
    except (RunnerVenvError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
