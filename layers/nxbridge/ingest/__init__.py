"""Ingest orchestration: verify → parse → map → validate → dedupe → one SQS message per customer → answer.

The logic takes its stores and clients as arguments (``Ingest(...)``) and knows nothing of Lambda: the handler
turns the API Gateway event into a ``WebhookRequest`` and the ``WebhookResponse`` back into a proxy result.

Guarantees: bad input is answered 4xx and queues nothing; a webhook is answered 2xx only once every one of its
customers is queued (else 503, so that the sender retries). A retried delivery whose first attempt queued part
of its customers before SQS failed queues only the rest: the sent indexes are recorded beside the idempotency
record (deliveries without an id are not tracked; the drain's upsert makes a resent customer harmless).

- ``pipeline``: ``Ingest``, the steps of one request (each returns an outcome or raises a ``Rejection``);
- ``answers``: an outcome or a ``Rejection`` (``nxbridge.rejections``) as the HTTP answer, and the rejection metric;
- ``queue``: ``CustomerQueue``, SendMessageBatch in chunks; ``ledger``: ``DeliveryLedger``, dedupe and progress.

Form endpoints also answer CORS preflights and fill-token requests, screen posts for spam, and answer browsers
with a redirect or a page (``nxbridge.forms``).
"""

from nxbridge.ingest.ledger import DeliveryLedger
from nxbridge.ingest.pipeline import Ingest
from nxbridge.ingest.queue import CustomerQueue, QueueUnavailable
from nxbridge.outcomes import WebhookResponse
from nxbridge.sources import WebhookRequest

__all__ = ["CustomerQueue", "DeliveryLedger", "Ingest", "QueueUnavailable", "WebhookRequest", "WebhookResponse"]
