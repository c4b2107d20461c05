"""The AWS emulator of the local run: moto's ``ThreadedMotoServer`` on loopback, in this process.

Why in-process: the shims (:mod:`.sagemaker_shim`) extend moto's backends directly, and moto's
server and its in-process backends share one state. Clients must use ``http://localhost:PORT``,
not ``127.0.0.1``: the CDK CLI's asset publishing fails with an IP address (DESIGN.md).
"""

from __future__ import annotations

import logging
import os
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

ACCOUNT_ID = "123456789012"  # moto's default account; every ARN of the local run carries it
REGION = "us-east-1"

#: Dummy credentials: moto accepts anything, and these can never reach a real account.
DUMMY_CREDENTIALS: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

# Fail fast against a local server: no retries on 5xx (moto answers 500 for what it lacks).
_CLIENT_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"})


class Emulator:
    """An in-process moto server on loopback, with the environment boto3 and the CDK CLI need.

    Usage::

        with Emulator() as emu:            # starts on a free port
            sm = emu.client("sagemaker")   # a client bound to the emulator
            with emu.environment():        # AWS_ENDPOINT_URL etc. for code that builds its own
                ...
            emu.reset()                    # wipe every backend (the server keeps running)

    ``start_seconds`` records how long the server took to accept requests (import included).
    """

    def __init__(self, *, port: int = 0, region: str = REGION, verbose: bool = False) -> None:
        self.region = region
        self.account_id = ACCOUNT_ID
        self._port = port
        self._verbose = verbose
        self._server: Any = None
        self.start_seconds: float | None = None

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> Emulator:
        """Start the server (idempotent) and return self."""
        if self._server is not None:
            return self
        began = time.perf_counter()
        from moto.server import ThreadedMotoServer  # heavy import: only when a run starts

        if not self._verbose:  # werkzeug logs every request to stderr
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._port, verbose=self._verbose)
        server.start()
        self._server = server
        self._port = server.get_host_and_port()[1]
        # moto's backends are global to the process: a server started where another emulator
        # (or a mock_aws test) ran before would see that run's stacks, jobs and metrics
        self.reset()
        self.start_seconds = time.perf_counter() - began
        return self

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def reset(self) -> None:
        """Wipe every moto backend (``POST /moto-api/reset``); the server keeps running."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
            response.read()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- how to reach it ---------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None and not self._port:
            raise RuntimeError("the emulator is not started")
        return self._port

    @property
    def endpoint_url(self) -> str:
        return f"http://localhost:{self.port}"

    def env(self) -> dict[str, str]:
        """The variables that point boto3 (>= 1.28) and the CDK CLI at the emulator."""
        return emulator_env(self.endpoint_url, self.region)

    @contextmanager
    def environment(self) -> Iterator[dict[str, str]]:
        """Set :meth:`env` in ``os.environ`` for the block; restore the previous values after."""
        with patched_environ(self.env()) as applied:
            yield applied

    def client(self, service: str) -> Any:
        """A boto3 client bound to the emulator, whatever the process environment says."""
        return make_client(service, self.endpoint_url, self.region)


def emulator_env(endpoint_url: str, region: str = REGION) -> dict[str, str]:
    """Environment for code that talks to the emulator at ``endpoint_url``."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        **DUMMY_CREDENTIALS,
    }


def make_client(service: str, endpoint_url: str | None, region: str = REGION) -> Any:
    """A boto3 client for ``service`` at ``endpoint_url`` with the dummy credentials (``None``:
    AWS's own endpoint, which in-process ``moto.mock_aws()`` intercepts)."""
    session = boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=region,
    )
    # boto3-stubs types client() per literal service name; callers annotate the client they
    # get (e.g. ``sm: SageMakerClient = make_client("sagemaker", url)``)
    return session.client(service, endpoint_url=endpoint_url, config=_CLIENT_CONFIG)  # type: ignore[call-overload]


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """Set ``values`` in ``os.environ``; afterwards restore exactly what was there (incl. absence).

    Not thread-safe (``os.environ`` is process-wide): the local run invokes one function at a time.
    """
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield dict(values)
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
