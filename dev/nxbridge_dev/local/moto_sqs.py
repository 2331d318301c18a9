"""What the local stack changes in moto's SQS: what SQS guarantees concurrent clients, at SQS's cost.

moto's SQS model is not safe under concurrent requests, and its server handles each request in a thread of its
own: two ReceiveMessage calls at once could both take one visible message (SQS hands an in-flight message to no
second receiver before its visibility timeout), a DeleteMessage that rebuilds the message list could drop a
message sent meanwhile, and two receives that redrove one message to the DLQ crashed. :func:`install`

- makes every call that changes a queue's messages atomic (one lock; a long poll waits outside it, between passes);
- takes out the repeated work that made every call slower as a queue deepens, answering the same: the retention
  check of a received message reads the one attribute it needs (moto computed all of them, counting the queue
  three times, per message received); SendMessage does not count the queue to read one setting;
  GetQueueAttributes computes the attributes once, not three times per name; DeleteMessageBatch finds the
  receipt handles in one pass, not two per entry; the clock of every visibility check is time.time() (moto built
  two datetimes per reading);
- keeps moto from playing SQS event source mappings itself (it would receive each message the moment it is sent
  and invoke the function in Docker): the local stack's poller plays them; the mappings stay as deployed.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from moto.awslambda.models import EventSourceMapping, LambdaBackend
from moto.core import utils
from moto.sqs import models
from moto.sqs.exceptions import InvalidAttributeName
from moto.sqs.models import Message, Queue, SQSBackend, sqs_backends

from nxbridge_dev.local import moto_server

_install_lock = threading.Lock()
_installed = False
# One lock for every queue: a receive may redrive a message from its queue into the DLQ.
_messages_lock = threading.RLock()
# Set while this thread runs a SendMessage, which reads queue settings but never the message counts.
_sending = threading.local()
_COUNTS = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)
# The SQSBackend methods that read and change the messages of a queue, each made atomic as a whole.
_ATOMIC = (
    "send_message_batch",
    "delete_message",
    "change_message_visibility",
    "change_message_visibility_batch",
    "purge_queue",
    "delete_queue",
)
F = TypeVar("F", bound=Callable[..., Any])


def _atomic(method: F) -> F:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _messages_lock:
            return method(*args, **kwargs)

    return locked  # type: ignore[return-value]


def _send_message(send: Callable[..., Message]) -> Callable[..., Message]:
    """SendMessage, atomic, with the queue's message counts left uncounted while it runs."""

    @functools.wraps(send)
    def send_message(*args: Any, **kwargs: Any) -> Message:
        with _messages_lock:
            _sending.active = True
            try:
                return send(*args, **kwargs)
            finally:
                _sending.active = False

    return send_message


def _uncounted_while_sending(count: property) -> property:
    """A message count of the queue, which is 0 without counting while this thread sends (nothing reads it then)."""

    def counted(queue: Queue) -> int:
        if getattr(_sending, "active", False):
            return 0
        value: int = count.__get__(queue)
        return value

    return property(counted)


def _receive_message(receive: Callable[..., list[Message]]) -> Callable[..., list[Message]]:
    """ReceiveMessage as passes that each take the lock with no wait, and a long poll that waits between them."""

    @functools.wraps(receive)
    def receive_message(
        self: SQSBackend, queue_name: str, count: int, wait_seconds_timeout: int, *rest: Any
    ) -> list[Message]:
        # rest: the visibility timeout and the message attribute names, as moto passes them.
        deadline = time.monotonic() + (wait_seconds_timeout or 0)
        while True:
            with _messages_lock:
                received = receive(self, queue_name, count, 0, *rest)
            remaining = deadline - time.monotonic()
            if received or remaining <= 0:
                return received
            # Woken by the next SendMessage to this queue (moto notifies on every add), or after the remaining wait.
            with moto_server.TURNS.waiting():
                self.get_queue(queue_name).wait_for_messages(min(1, remaining))  # type: ignore[arg-type]

    return receive_message


def _is_message_valid_based_on_retention_period(self: SQSBackend, queue_name: str, message: Message) -> bool:
    """moto's check, reading MessageRetentionPeriod alone."""
    retention_period = int(self.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
    return bool(retention_period + message.sent_timestamp / 1000 > time.time())  # type: ignore[operator]


def _get_queue_attributes(self: SQSBackend, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
    """moto's GetQueueAttributes (the same validation and answer), computing the queue's attributes once."""
    queue = self.get_queue(queue_name)
    if not attribute_names:
        return {}
    valid_names = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
    invalid_name = next((name for name in attribute_names if name not in valid_names), None)
    if invalid_name is not None:
        raise InvalidAttributeName(invalid_name)
    computed: dict[str, Any] = queue.attributes
    if "All" in attribute_names:
        return computed
    return {name: computed[name] for name in attribute_names if computed.get(name) is not None}


def _delete_message_batch(
    self: SQSBackend, queue_name: str, receipts: list[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """moto's DeleteMessageBatch (entries deleted in order, the same answer per entry) in one pass over the queue."""
    queue = self.get_queue(queue_name)
    holders = {handle: message for message in queue._messages for handle in message.all_receipt_handles}
    success: list[str] = []
    errors: list[dict[str, Any]] = []
    deleted: set[int] = set()
    for entry in receipts:
        handle = entry["ReceiptHandle"]
        message = holders.get(handle)
        if handle in queue.deleted_messages:
            # Already deleted (earlier, or by an earlier entry): moto answers success.
            success.append(entry["Id"])
        elif message is None:
            errors.append(
                {
                    "Id": entry["Id"],
                    "SenderFault": True,
                    "Code": "ReceiptHandleIsInvalid",
                    "Message": f'The input receipt handle "{handle}" is not a valid receipt handle.',
                }
            )
        else:
            queue.pending_messages.discard(message)
            queue.deleted_messages.update(message.all_receipt_handles)  # type: ignore[arg-type]
            deleted.add(id(message))
            success.append(entry["Id"])
    if deleted:
        queue._messages = [message for message in queue._messages if id(message) not in deleted]
    return success, errors


def _unix_time(dt: Any = None) -> float:
    """moto's clock (seconds since the epoch), read with time.time() when it is now that is asked."""
    return time.time() if dt is None else utils.unix_time(dt)


def _unix_time_millis(dt: Any = None) -> float:
    """moto's clock in milliseconds, likewise."""
    return time.time() * 1000.0 if dt is None else utils.unix_time_millis(dt)


def _create_event_source_mapping(
    create: Callable[[LambdaBackend, dict[str, Any]], EventSourceMapping],
) -> Callable[[LambdaBackend, dict[str, Any]], EventSourceMapping]:
    """CreateEventSourceMapping as moto has it, with the mapping taken off the queue moto would poll it from."""

    @functools.wraps(create)
    def create_event_source_mapping(self: LambdaBackend, spec: dict[str, Any]) -> EventSourceMapping:
        mapping = create(self, spec)
        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            if queue.queue_arn == mapping.event_source_arn:
                queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        return mapping

    return create_event_source_mapping


def install() -> None:
    """Patch moto's SQSBackend (once per process; moto's backends are process-wide too)."""
    global _installed  # noqa: PLW0603 - moto's classes are process-wide
    with _install_lock:
        if _installed:
            return
        for name in _ATOMIC:
            setattr(SQSBackend, name, _atomic(getattr(SQSBackend, name)))
        SQSBackend.send_message = _send_message(SQSBackend.send_message)  # type: ignore[method-assign]
        for name in _COUNTS:
            setattr(Queue, name, _uncounted_while_sending(getattr(Queue, name)))
        SQSBackend.receive_message = _receive_message(SQSBackend.receive_message)  # type: ignore[method-assign]
        SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
            _is_message_valid_based_on_retention_period
        )
        SQSBackend.get_queue_attributes = _get_queue_attributes  # type: ignore[method-assign]
        SQSBackend.delete_message_batch = _atomic(_delete_message_batch)  # type: ignore[method-assign]
        # The names moto's SQS models call the clock by.
        setattr(models, "unix_time", _unix_time)  # noqa: B010
        setattr(models, "unix_time_millis", _unix_time_millis)  # noqa: B010
        LambdaBackend.create_event_source_mapping = _create_event_source_mapping(  # type: ignore[assignment,method-assign]
            LambdaBackend.create_event_source_mapping
        )
        _installed = True
