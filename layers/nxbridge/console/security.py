"""The console's access rules: a per-run token (as Jupyter's), a CSRF token derived from it, loopback hosts only.

The token comes once in the URL the command prints and is then kept in a cookie; every form carries the CSRF
token, which a page on another site cannot read. Requests whose Host is not a loopback name are refused, so that
a DNS-rebinding page cannot reach the console through the browser either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

TOKEN_PARAM = "token"  # noqa: S105 - the query parameter's name
CSRF_FIELD = "csrf"
LOOPBACK_HOSTS: frozenset[str] = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Guard:
    """The secrets of one console run."""

    token: str

    @classmethod
    def new(cls) -> Guard:
        """A guard with a fresh random token."""
        return cls(secrets.token_urlsafe(32))

    @property
    def cookie_name(self) -> str:
        """A cookie name of this run: cookies ignore ports, so two consoles on 127.0.0.1 must not share one."""
        return "nxbridge_console_" + hashlib.sha256(self.token.encode()).hexdigest()[:12]

    @property
    def csrf(self) -> str:
        """The CSRF token every form posts: an HMAC of the run token, so it needs no server-side state."""
        return hmac.new(self.token.encode(), b"nxbridge-console-csrf", hashlib.sha256).hexdigest()

    def token_ok(self, candidate: str | None) -> bool:
        """Whether ``candidate`` is this run's token (constant-time)."""
        return candidate is not None and hmac.compare_digest(candidate.encode(), self.token.encode())

    def csrf_ok(self, candidate: str | None) -> bool:
        """Whether ``candidate`` is this run's CSRF token (constant-time)."""
        return candidate is not None and hmac.compare_digest(candidate.encode(), self.csrf.encode())


def loopback_host(host: str) -> bool:
    """Whether a Host header (``name[:port]`` or ``[v6]:port``) names this machine's loopback interface."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    return name in LOOPBACK_HOSTS
