"""The embedded AWS of the local stack: moto's server on loopback, into which template.yaml is deployed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

import boto3
import boto3.session
import requests

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from nxbridge_dev.local.moto_server import MotoServer

# moto accepts any credentials; fixed fake ones guarantee that nothing the stack starts can reach real AWS.
FAKE_CREDENTIALS: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
ACCOUNT_ID = "123456789012"  # moto's default account
# How long moto's server process may take to import and listen, and to exit once told to.
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


class LocalAws:
    """moto's server on 127.0.0.1 (with the local stack's additions to moto) plus clients pointed at it.

    With ``own_process`` the server runs in a child process (``nxbridge_dev.local.moto_process``), apart from the
    functions as AWS is apart from Lambda: its request threads then share no interpreter lock with them. In one
    process, every AWS call of a function waits behind all the other threads (with two drains at work, past the
    0.75 s read timeout of the drain's DynamoDB calls). Without it, moto's backends can be read in this process.
    """

    def __init__(self, region: str, host: str = "127.0.0.1", port: int = 0, *, own_process: bool = False) -> None:
        self.region = region
        self.host = host
        self.port = port
        self.own_process = own_process
        self._server: MotoServer | None = None
        self._process: subprocess.Popen[str] | None = None
        self._endpoint_url: str | None = None
        # A session of its own: boto3's default session, which the functions use from other threads, is not
        # safe for creating clients concurrently. Clients themselves are thread-safe and are reused.
        self._session = boto3.session.Session()
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``; only valid after :meth:`start`."""
        if self._endpoint_url is None:
            raise RuntimeError("LocalAws is not started")
        return self._endpoint_url

    def start(self) -> str:
        """Start the server on a free port (wiping any moto state this process still holds)."""
        if self.own_process:
            host, port = self._start_process()
            self._endpoint_url = f"http://{host}:{port}"
        else:
            from nxbridge_dev.local.moto_process import start_server  # noqa: PLC0415 - moto's server, only here

            self._server = start_server(self.host, self.port)
            host, port = self._server.get_host_and_port()
            self._endpoint_url = f"http://{host}:{port}"
            self.reset()
        return self._endpoint_url

    def stop(self) -> None:
        """Drop every resource (state is in memory only) and stop the server."""
        if self._endpoint_url is None:
            return
        if self._server is not None:
            self.reset()
            self._server.stop()
            self._server = None
        # A child's state goes with it.
        self._stop_process()
        self._endpoint_url = None
        with self._clients_lock:
            self._clients.clear()

    def reset(self) -> None:
        """moto's backends are process-global: reset them so no earlier state leaks in or out."""
        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()

    def client(self, service: str) -> Any:
        """The (shared, thread-safe) boto3 client for ``service`` on this server, with the fake credentials."""
        endpoint_url = self.endpoint_url
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(
                    service,  # type: ignore[call-overload]
                    region_name=self.region,
                    endpoint_url=endpoint_url,
                    aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                )
            return self._clients[service]

    def sqs(self) -> SQSClient:
        """An SQS client on this server."""
        client: SQSClient = self.client("sqs")
        return client

    def _start_process(self) -> tuple[str, int]:
        # The child imports this checkout's packages from where this process found them.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        self._process = process = subprocess.Popen(  # noqa: S603 - this interpreter, this package's module
            [sys.executable, "-m", "nxbridge_dev.local.moto_process", self.host, str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        line = _first_line(process.stdout, START_TIMEOUT_SECONDS)
        if not line:
            self._stop_process()
            raise RuntimeError(f"moto's server process did not start (exit status {process.returncode})")
        host, port = line.split()
        return host, int(port)

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            # The child serves until its standard input ends.
            process.stdin.close()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _first_line(stream: IO[str] | None, timeout: float) -> str:
    """The first line of ``stream``, or "" when none comes within ``timeout`` seconds (or it ends first)."""
    if stream is None:
        return ""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0].strip() if lines else ""
