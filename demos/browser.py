"""Headless Chromium driven over the DevTools protocol on a pipe: enough to load a page, run JavaScript
in it and take a screenshot, with no Python package beyond the standard library.

Chromium is started with ``--remote-debugging-pipe``: it reads protocol messages (JSON, each
terminated by a NUL byte) on file descriptor 3 and writes replies and events on descriptor 4.
Every host name except localhost resolves to nothing, so a page that renders here renders offline,
and any attempt to reach the internet is recorded in ``external_requests``.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)
LOCAL_PREFIXES = ("http://127.0.0.1", "http://localhost", "ws://127.0.0.1", "ws://localhost", "data:", "blob:",
                  "about:")


class BrowserError(RuntimeError):
    """Chromium could not be started, or a page did not do what was expected in time."""


def _above_nine(descriptor: int) -> int:
    """A duplicate of ``descriptor`` numbered 10 or more (the original is closed)."""
    duplicate = fcntl.fcntl(descriptor, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(descriptor)
    return duplicate


def find_chromium() -> str | None:
    """The system Chromium (Debian's package), or ``None`` when it is not installed."""
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


class Chromium:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, executable: str | None = None, width: int = 1400, height: int = 1000,
                 timeout: float = 30.0) -> None:
        self.executable = executable or find_chromium()
        if not self.executable:
            raise BrowserError("Chromium is not installed (apt-get install chromium).")
        self.width, self.height, self.timeout = width, height, timeout
        self.external_requests: list[str] = []
        self.console_errors: list[str] = []
        self._next_id = 0
        self._buffer = b""
        self._session: str | None = None

    # -- process --------------------------------------------------------------------------------
    def __enter__(self) -> "Chromium":
        self._profile = tempfile.mkdtemp(prefix="mmcache-chromium-")
        child_reads, self._writer = os.pipe()
        self._reader, child_writes = os.pipe()
        # Move the child's ends above 9 so that placing them on 3 and 4 cannot clobber either one.
        child_reads, child_writes = (_above_nine(fd) for fd in (child_reads, child_writes))
        # bash puts them on descriptors 3 and 4 (thread-safe, unlike preexec_fn; dash rejects fds > 9).
        redirect = f'exec "$0" "$@" 3<&{child_reads} 4>&{child_writes} {child_reads}<&- {child_writes}>&-'
        arguments = [*CHROMIUM_FLAGS, f"--user-data-dir={self._profile}", f"--window-size={self.width},{self.height}",
                     "--remote-debugging-pipe", "about:blank"]
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(["bash", "-c", redirect, self.executable, *arguments],
                                          pass_fds=(child_reads, child_writes), stdin=subprocess.DEVNULL,
                                          stdout=self._log, stderr=self._log)
        os.close(child_reads)
        os.close(child_writes)
        try:
            target = self.send("Target.createTarget", url="about:blank")["targetId"]
            self._session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "Network"):
                self.send(f"{domain}.enable")
            self.resize(self.width, self.height)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_exc: Any) -> None:
        for descriptor in (self._writer, self._reader):
            try:
                os.close(descriptor)
            except OSError:
                pass
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def _chromium_log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    # -- protocol -------------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError("Chromium did not answer in time.")
            ready, _, _ = select.select([self._reader], [], [], remaining)
            if ready:
                chunk = os.read(self._reader, 1 << 20)
                if not chunk:
                    raise BrowserError(f"Chromium exited. Its log ends with:\n{self._chromium_log()}")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def _observe(self, event: dict[str, Any]) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith(LOCAL_PREFIXES):
                self.external_requests.append(url)
        elif method == "Runtime.exceptionThrown":
            self.console_errors.append(str(params.get("exceptionDetails", {}).get("text")))

    def send(self, method: str, timeout: float | None = None, **params: Any) -> dict[str, Any]:
        """Send one protocol command (to the page once attached) and return its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self._session and not method.startswith("Target."):
            message["sessionId"] = self._session
        os.write(self._writer, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") != self._next_id:
                self._observe(reply)
                continue
            if "error" in reply:
                raise BrowserError(f"{method} failed: {reply['error'].get('message')}")
            return reply.get("result", {})

    # -- page -----------------------------------------------------------------------------------
    def resize(self, width: int, height: int) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"JavaScript failed: {result['exceptionDetails'].get('text')} in {expression!r}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float, what: str, interval: float = 0.25) -> Any:
        """Poll ``expression`` until it is truthy; ``BrowserError`` naming ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"Timed out after {timeout:.0f} s waiting for {what}.")
            time.sleep(interval)

    def screenshot(self, path: str | Path, full_page: bool = True) -> Path:
        """Save a PNG of the page (the whole scrollable height when ``full_page``)."""
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            self.resize(self.width, max(self.height, int(size["height"])))
        data = self.send("Page.captureScreenshot", format="png")["data"]
        from mmcache.files import atomic_write_bytes

        return atomic_write_bytes(path, base64.b64decode(data))
