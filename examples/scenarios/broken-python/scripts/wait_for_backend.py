"""Waits for a backend on 127.0.0.1:9 that never answers: the integration phase times out."""

from __future__ import annotations

import socket
import time

while True:
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=0.2).close()
        break
    except OSError:
        print("backend not up yet", flush=True)
        time.sleep(0.5)
