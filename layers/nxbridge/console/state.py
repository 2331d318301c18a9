"""The console's per-app state (context, guard, audit log, jobs) and how a request handler reaches it."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from nxbridge.console.audit import AuditLog
from nxbridge.console.context import ConsoleContext
from nxbridge.console.jobs import Jobs
from nxbridge.console.security import Guard

EXTENSION = "nxbridge_console"


@dataclass
class Console:
    """One running console."""

    context: ConsoleContext
    guard: Guard
    audit: AuditLog
    jobs: Jobs = field(default_factory=Jobs)


def current() -> Console:
    """The console of the app handling this request."""
    found: Console = current_app.extensions[EXTENSION]
    return found
