"""`sam build` (make build) builds the ToolchainLayer for the Lambda runtime, python3.13 on arm64,
holding exactly the pins of layers/toolchain/requirements.txt, binaries included."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAM = REPO / ".venv-tools" / "bin" / "sam"
EM_AARCH64 = 183  # the ELF e_machine of arm64


def _python313_folder() -> str | None:
    found = subprocess.run(
        [str(REPO / "local" / "find-python3.13")], capture_output=True, text=True, check=False
    )
    return (found.stdout.strip() or None) if found.returncode == 0 else None


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "layers" / "toolchain" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "_", name).lower()] = version
    return pins


def test_the_toolchain_layer_holds_exactly_its_pins_built_for_python313_arm64(tmp_path: Path) -> None:
    python313 = _python313_folder()
    if not SAM.is_file() or python313 is None:
        if os.environ.get("CI") == "true":
            pytest.fail("make validate (SAM CLI) and a Python 3.13 are needed to build the layer")
        pytest.skip("needs .venv-tools (make validate) and a Python 3.13 (local/find-python3.13)")
    built = subprocess.run(
        [str(SAM), "build", "ToolchainLayer", "--build-dir", str(tmp_path / "build")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
        env={**os.environ, "PATH": f"{python313}:{os.environ.get('PATH', '')}"},
        check=False,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    layer = tmp_path / "build" / "ToolchainLayer" / "python"  # /opt/python on Lambda
    dists = {}
    for info in layer.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
        dists[re.sub(r"[-_.]+", "_", name).lower()] = version
    assert dists == _pins()  # every pin, at its version, and nothing else
    binaries = list(layer.rglob("*.so"))
    assert binaries, "coverage's tracer is a compiled extension"
    for binary in binaries:
        assert ".cpython-313-aarch64-linux-gnu." in binary.name, binary
        header = binary.read_bytes()[:20]
        assert header[:4] == b"\x7fELF"
        assert int.from_bytes(header[18:20], "little") == EM_AARCH64, binary
