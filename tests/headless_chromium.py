"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
the browser reads commands on its fd 3 and writes answers and events on its fd 4, each message
JSON ending with a NUL byte): no socket, no websocket library, only the installed browser.

:func:`find_or_install_chromium` finds Debian's ``chromium`` or installs it with apt-get (as
root, where CI runs); :func:`render` opens a page, waits for its load event, evaluates an
expression in it, collects what went to the console (console.error/warning, uncaught
exceptions, the browser's own error log such as a resource that failed to load), and takes a
full-page screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium"
INSTALL_LOCK = Path(tempfile.gettempdir()) / "trainguard-chromium-install.lock"


class ChromiumUnavailable(Exception):
    """No browser here and no way to install one (not root, or no apt-get)."""


def _which() -> str | None:
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit
    return next((p for name in CANDIDATES if (p := shutil.which(name))), None)


def find_or_install_chromium() -> str:
    """The browser's path; installs Debian's ``chromium`` with apt-get when it is missing
    (one installer at a time across pytest-xdist workers). Raises :class:`ChromiumUnavailable`
    when it cannot be installed here, :class:`RuntimeError` when apt-get fails."""
    found = _which()
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise ChromiumUnavailable(
            f"no chromium here and apt-get cannot install it as uid {os.geteuid()}: "
            f"run `{INSTALL}` as root, or set CHROMIUM=/path/to/chrome"
        )
    with INSTALL_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be installing it right now
        found = _which()
        if found:
            return found
        done = subprocess.run(
            ["bash", "-c", INSTALL], capture_output=True, text=True, timeout=900, check=False
        )
        found = _which()
        if done.returncode != 0 or not found:
            raise RuntimeError(f"`{INSTALL}` failed ({done.returncode}): {done.stderr[-2000:]}")
        return found


@dataclass
class Rendered:
    """What the browser saw: the evaluated expression's value, the console's errors and
    warnings (one line each), the full-page screenshot (PNG bytes)."""

    value: Any
    console: list[str] = field(default_factory=list)
    screenshot: bytes = b""


class _Pipe:
    """One DevTools session over the browser's pipe: commands get answers by id; events queue."""

    def __init__(self, to_browser: int, from_browser: int) -> None:
        self._out = to_browser
        self._in = os.fdopen(from_browser, "rb", buffering=0)
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self._next = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        pending = b""
        while chunk := self._in.read(1 << 16):
            pending += chunk
            *whole, pending = pending.split(b"\0")
            for raw in whole:
                self._messages.put(json.loads(raw))
        self._messages.put(None)  # the browser closed its end

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            got = self._get(deadline, method)
            if got.get("id") == self._next:
                if "error" in got:
                    raise RuntimeError(f"{method}: {got['error']}")
                result: dict[str, Any] = got.get("result", {})
                return result
            self.events.append(got)

    def wait_for(self, event: str, deadline: float) -> None:
        while not any(e.get("method") == event for e in self.events):
            self.events.append(self._get(deadline, event))

    def _get(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        try:
            got = self._messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"no answer from the browser to {waiting_for}") from None
        if got is None:
            raise RuntimeError(f"the browser closed the pipe while waiting for {waiting_for}")
        return got


def _console_lines(events: list[dict[str, Any]]) -> list[str]:
    """Errors and warnings the page or the browser reported, one line each."""
    lines = []
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
            lines.append(f"console.{p['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = p.get("exceptionDetails", {})
            described = details.get("exception", {}).get("description") or details.get("text")
            lines.append(f"uncaught: {described}")
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
            entry = p["entry"]
            where = entry.get("url", "")
            lines.append(f"{entry['source']} {entry['level']}: {entry['text']} {where}".strip())
    return lines


def _preexec(to_browser: int, from_browser: int) -> None:
    """In the child: the pipe ends at fds 3 (commands) and 4 (answers), as Chromium expects
    (moved above 10 first so that neither overwrites the other)."""
    high_in = fcntl.fcntl(to_browser, fcntl.F_DUPFD, 10)
    high_out = fcntl.fcntl(from_browser, fcntl.F_DUPFD, 10)
    os.dup2(high_in, 3)
    os.dup2(high_out, 4)


def render(
    browser: str, url: str, expression: str, *, width: int = 1280, timeout: float = 60.0
) -> Rendered:
    """Open ``url`` in a fresh headless browser, wait for its load event, evaluate
    ``expression`` (its value returned by value; a promise is awaited) and screenshot the page."""
    cmd_r, cmd_w = os.pipe()  # we write commands, the browser reads (its fd 3)
    ans_r, ans_w = os.pipe()  # the browser writes, we read (its fd 4)
    with tempfile.TemporaryDirectory(prefix="tg-chromium-") as profile:
        args = [
            browser,
            "--headless",
            "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            f"--window-size={width},900",
            "about:blank",
        ]
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # the child's fds 3 and 4 are made by _preexec (dup2: inheritable); every other fd of
            # ours is non-inheritable (PEP 446), so nothing else leaks into the browser
            close_fds=False,
            preexec_fn=lambda: _preexec(cmd_r, ans_w),
        )
        os.close(cmd_r)
        os.close(ans_w)
        pipe = _Pipe(cmd_w, ans_r)
        try:
            return _drive(pipe, url, expression, width, time.monotonic() + timeout)
        finally:
            with contextlib.suppress(RuntimeError, TimeoutError, OSError):
                pipe.send("Browser.close", timeout=10)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            os.close(cmd_w)


def _drive(pipe: _Pipe, url: str, expression: str, width: int, deadline: float) -> Rendered:
    target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log"):
        pipe.send(f"{domain}.enable", session=session)
    pipe.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        session=session,
    )
    pipe.events.clear()
    navigated = pipe.send("Page.navigate", {"url": url}, session=session)
    if navigated.get("errorText"):
        raise RuntimeError(f"cannot open {url}: {navigated['errorText']}")
    pipe.wait_for("Page.loadEventFired", deadline)
    evaluated = pipe.send(
        "Runtime.evaluate",
        {"expression": expression, "returnByValue": True, "awaitPromise": True},
        session=session,
    )
    if "exceptionDetails" in evaluated:
        raise RuntimeError(f"the check failed in the page: {evaluated['exceptionDetails']}")
    size = pipe.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
    shot = pipe.send(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
        session=session,
    )
    return Rendered(
        value=evaluated["result"].get("value"),
        console=_console_lines(pipe.events),
        screenshot=base64.b64decode(shot["data"]),
    )
