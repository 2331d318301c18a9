"""The embedded AWS of the local stack: moto's server on loopback, provisioned like template.yaml."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import boto3.session
import requests
from moto.server import ThreadedMotoServer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

# moto accepts any credentials; fixed fake ones guarantee that nothing the stack starts can reach real AWS.
FAKE_CREDENTIALS: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
ACCOUNT_ID = "123456789012"  # moto's default account

QUEUE_NAME = "CustomersQueue"
DLQ_NAME = "CustomersDLQ"
WEBHOOK_SECRETS_NAME = "nxbridge/local/webhook-secrets"
NXCLOUD_SECRET_NAME = "nxbridge/local/nxcloud"  # noqa: S105 - a name, not a secret
ENDPOINTS_PARAMETER = "/nxbridge/local/endpoints"
IDEMPOTENCY_TABLE = "nxbridge-local-idempotency"
# Powertools idempotency's default TTL attribute.
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"

MAX_RECEIVE_COUNT = 5
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class QueueSettings:
    """Queue attributes that differ locally: the visibility timeout is short so retries show up in seconds."""

    visibility_timeout: int = 10
    max_receive_count: int = MAX_RECEIVE_COUNT


@dataclass(frozen=True)
class LocalResources:
    """What :meth:`LocalAws.provision` created, by the names the handlers' settings use."""

    endpoint_url: str
    region: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    webhook_secrets_arn: str
    nxcloud_secret_arn: str
    endpoints_parameter: str
    idempotency_table: str


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

    def sqs(self) -> SQSClient:
        """An SQS client on this server."""
        client: SQSClient = self.client("sqs")
        return client

    def provision(
        self,
        *,
        endpoints_document: str,
        webhook_secrets: Mapping[str, Any],
        nxcloud_secret: Mapping[str, Any],
        queues: QueueSettings,
    ) -> LocalResources:
        """Create the template's resources: queues with redrive, both secrets, the endpoints parameter, the table."""
        sqs = self.sqs()
        dlq_url = sqs.create_queue(
            QueueName=DLQ_NAME,
            Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS), "SqsManagedSseEnabled": "true"},
        )["QueueUrl"]
        dlq_arn = _queue_arn(sqs, dlq_url)
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(queues.max_receive_count)}
        queue_url = sqs.create_queue(
            QueueName=QUEUE_NAME,
            Attributes={
                "VisibilityTimeout": str(queues.visibility_timeout),
                "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
                "SqsManagedSseEnabled": "true",
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]

        secrets: SecretsManagerClient = self.client("secretsmanager")
        webhook_arn = secrets.create_secret(Name=WEBHOOK_SECRETS_NAME, SecretString=json.dumps(webhook_secrets))["ARN"]
        nxcloud_arn = secrets.create_secret(Name=NXCLOUD_SECRET_NAME, SecretString=json.dumps(nxcloud_secret))["ARN"]

        ssm: SSMClient = self.client("ssm")
        ssm.put_parameter(Name=ENDPOINTS_PARAMETER, Value=endpoints_document, Type="String")

        dynamodb: DynamoDBClient = self.client("dynamodb")
        dynamodb.create_table(
            TableName=IDEMPOTENCY_TABLE,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=IDEMPOTENCY_TABLE,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": IDEMPOTENCY_TTL_ATTRIBUTE},
        )
        return LocalResources(
            endpoint_url=self.endpoint_url,
            region=self.region,
            queue_url=queue_url,
            queue_arn=_queue_arn(sqs, queue_url),
            dlq_url=dlq_url,
            dlq_arn=dlq_arn,
            webhook_secrets_arn=webhook_arn,
            nxcloud_secret_arn=nxcloud_arn,
            endpoints_parameter=ENDPOINTS_PARAMETER,
            idempotency_table=IDEMPOTENCY_TABLE,
        )


def _queue_arn(sqs: SQSClient, queue_url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
