"""A strict local NXCloud ``customers/batch_create`` over real HTTP, with fault injection (docs/nxcloud-contract.md).

It is the referee for the client and the models, so every check here is written from the contract with hashlib
and json directly and shares no code with ``nxbridge.contract`` or ``nxbridge.nxcloud`` (the signing included);
only ``nxbridge.observability``'s logger is borrowed. Run it with ``python -m nxbridge_dev.simulator`` or
``nxbridge simulator``.

- ``rules``: the contract's request checks (headers, signature, body, customer fields), pure functions;
- ``store``: what it holds (seats, customers upserted by contact, calls and their counters);
- ``faults``: injected faults and seeded chaos;
- ``server``: the HTTP server and its handler, batch_create and the ``/_sim/`` control endpoints;
- ``service``: ``Simulator``, which ties them together for one account and runs the server in a thread;
- ``cli``: the ``nxbridge simulator`` subcommand (``register``) and ``python -m nxbridge_dev.simulator``.
"""

from nxbridge_dev.simulator.cli import add_arguments, main, register, serve
from nxbridge_dev.simulator.faults import FAULTS
from nxbridge_dev.simulator.rules import (
    CONTACT_FIELDS,
    DIGIT_FIELDS,
    INT_FIELDS,
    MAX_CUSTOMERS,
    MESSAGES,
    PATH,
    REQUIRED_HEADERS,
    SEAT_MESSAGE,
    STRING_FIELDS,
    TS_WINDOW_MS,
    expected_sign,
    record_errors,
)
from nxbridge_dev.simulator.server import CHAOS_PATH, FAULTS_PATH, MAX_BODY_BYTES, RESET_PATH, STATE_PATH
from nxbridge_dev.simulator.service import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_ACCESS_SECRET,
    DEFAULT_APP_KEY,
    DEFAULT_SEATS,
    DEFAULT_TENANT_ID,
    Simulator,
)
from nxbridge_dev.simulator.store import FIRST_CUSTOMER_ID, Call

__all__ = [
    "CHAOS_PATH",
    "CONTACT_FIELDS",
    "DEFAULT_ACCESS_KEY",
    "DEFAULT_ACCESS_SECRET",
    "DEFAULT_APP_KEY",
    "DEFAULT_SEATS",
    "DEFAULT_TENANT_ID",
    "DIGIT_FIELDS",
    "FAULTS",
    "FAULTS_PATH",
    "FIRST_CUSTOMER_ID",
    "INT_FIELDS",
    "MAX_BODY_BYTES",
    "MAX_CUSTOMERS",
    "MESSAGES",
    "PATH",
    "REQUIRED_HEADERS",
    "RESET_PATH",
    "SEAT_MESSAGE",
    "STATE_PATH",
    "STRING_FIELDS",
    "TS_WINDOW_MS",
    "Call",
    "Simulator",
    "add_arguments",
    "expected_sign",
    "main",
    "record_errors",
    "register",
    "serve",
]
