"""The local stack prints each log line once: the functions' JSON lines (stdout) as Lambda does, and its
own lines as plain text on stderr (`configure_logging`). A fresh interpreter, so this process's logging
is left as it is."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import logging
from testgenie.observability import logger
from testgenie_local.serve import configure_logging
configure_logging(False)
logger.warning("a function's line")
logging.getLogger("testgenie.local.runner").warning("the stack's line")
logging.getLogger("testgenie.local").info("below the stack's level")
logging.getLogger("botocore").warning("a library's line")
"""


def test_every_line_is_printed_once_in_its_own_format() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    both = done.stdout + done.stderr
    assert both.count("a function's line") == 1, both
    assert '"message":"a function\'s line"' in done.stdout  # JSON, as on Lambda
    assert both.count("the stack's line") == 1, both
    # Plain text on stderr, not a JSON line in some function's context.
    assert "WARNING testgenie.local.runner: the stack's line" in done.stderr
    assert "below the stack's level" not in both
    assert "WARNING botocore: a library's line" in done.stderr
