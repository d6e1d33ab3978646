"""Starting real servers in tests: every wait is an overall deadline with retries, never one short timeout."""

from __future__ import annotations

import socket
import subprocess
import time

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(
    url: str, *, process: subprocess.Popen | None = None, deadline_seconds: float = 180.0, status: int = 200
) -> None:
    """Poll `url` until it answers `status`; raise if the deadline passes or the server process exits.

    A busy 2-core machine can take many seconds to answer a first request, so each try may take up to 30 s
    and any request error is retried until the overall deadline.
    """
    deadline = time.monotonic() + deadline_seconds
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode} before answering {url}")
        try:
            answer = requests.get(url, timeout=min(30.0, max(1.0, deadline - time.monotonic())))
            if answer.status_code == status:
                return
            last_error = f"HTTP {answer.status_code}"
        except requests.RequestException as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.25)
    raise TimeoutError(f"{url} did not answer {status} within {deadline_seconds:.0f} s ({last_error})")
