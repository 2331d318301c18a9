"""The embedded AWS of the local stack: moto's server on loopback, into which template.yaml is deployed."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import boto3
import boto3.session
import requests
from moto.server import ThreadedMotoServer
from moto.sqs.models import sqs_backends

from nxbridge_dev.local import moto_cloudformation

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# moto accepts any credentials; fixed fake ones guarantee that nothing the stack starts can reach real AWS.
FAKE_CREDENTIALS: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
ACCOUNT_ID = "123456789012"  # moto's default account


class LocalAws:
    """moto's ThreadedMotoServer on 127.0.0.1 plus clients pointed at it."""

    def __init__(self, region: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.region = region
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
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
        """Start the server on a free port and wipe any moto state this process still holds."""
        # moto's server logs every request through werkzeug; the stack reports what matters itself.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        moto_cloudformation.install()
        self._server.start()
        host, port = self._server.get_host_and_port()
        self._endpoint_url = f"http://{host}:{port}"
        self.reset()
        return self._endpoint_url

    def stop(self) -> None:
        """Drop every resource (state is in memory only) and stop the server."""
        if self._endpoint_url is None:
            return
        self.reset()
        self._server.stop()
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

    def detach_moto_event_sources(self) -> None:
        """Keep moto from playing the SQS event source mappings itself; the local stack's poller plays them.

        moto receives a message the moment it is sent to a mapped queue and invokes the function in Docker (and,
        with no Docker, puts it back having counted a receive). The mappings stay as deployed.
        """
        for queue in sqs_backends[ACCOUNT_ID][self.region].queues.values():
            queue.lambda_event_source_mappings.clear()

    def sqs(self) -> SQSClient:
        """An SQS client on this server."""
        client: SQSClient = self.client("sqs")
        return client
