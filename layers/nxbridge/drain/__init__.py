"""Drain orchestration: decode a batch of queue messages, deliver it to NXCloud in one call, account for each one.

Every message ends in exactly one of four places: stored in NXCloud (acknowledged), in the DLQ with a reason
(acknowledged), superseded by a newer version of the same customer (acknowledged, ``nxbridge.ordering``), or in
``batchItemFailures`` (SQS delivers it again). The clients are injected: the handler builds them with
:meth:`Drainer.from_settings`, tests and the local stack pass moto and the simulator.

Modules, in the order an invocation meets them: ``drainer`` (the Drainer, the steps in order), ``decode`` (records
to messages, read on trust per ``nxbridge.envelope``), ``admission`` (newest wins: coalesce, claim, release),
``delivery`` (the NXCloud calls, retries, bisection), ``dead_letters`` (DLQ records and their write), ``report``
(metrics and the summary line); ``run`` holds one invocation's state and time budget, ``result`` where each
message ended, ``credentials`` the NXCloud secret.
"""

from __future__ import annotations

from nxbridge.drain.credentials import CredentialsSource, CredentialsUnavailable, SecretCredentials
from nxbridge.drain.delivery import BatchSender
from nxbridge.drain.drainer import Drainer
from nxbridge.drain.result import DeadLetter, DrainResult, Superseded, Synced
from nxbridge.drain.run import DEADLINE_MARGIN_MS, RESPONSE_SECONDS

__all__ = [
    "DEADLINE_MARGIN_MS",
    "RESPONSE_SECONDS",
    "BatchSender",
    "CredentialsSource",
    "CredentialsUnavailable",
    "DeadLetter",
    "DrainResult",
    "Drainer",
    "SecretCredentials",
    "Superseded",
    "Synced",
]
