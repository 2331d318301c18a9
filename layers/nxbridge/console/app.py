"""The console's Flask app: access checks on every request, the pages, the actions.

Flask because the console is a handful of server-rendered forms: a WSGI app is one function call, which the
local stack's HTTP front can mount without an event loop, Jinja2 escapes every value by default, and
Werkzeug's threaded server is enough for one operator on 127.0.0.1.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from nxbridge.console import actions, pages
from nxbridge.console.audit import AuditLog
from nxbridge.console.context import ConsoleContext
from nxbridge.console.formatting import age_text, count_text, when_text
from nxbridge.console.security import CSRF_FIELD, TOKEN_PARAM, Guard, loopback_host
from nxbridge.console.state import EXTENSION, Console, current

# No script runs on these pages, so none may: the policy allows inline styles and the data: favicon only.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
MAX_FORM_BYTES = 1024 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD"})


def create_app(context: ConsoleContext, *, guard: Guard, audit: AuditLog) -> Flask:
    """The console app for ``context``; every request must carry ``guard``'s token, every form its CSRF token."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_FORM_BYTES
    app.extensions[EXTENSION] = Console(context=context, guard=guard, audit=audit)
    app.before_request(_check_access)
    app.after_request(_secure_headers)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(actions.blueprint)
    app.jinja_env.filters.update(age=age_text, when=when_text, n=count_text)
    app.context_processor(_template_globals)
    return app


def _template_globals() -> dict[str, Any]:
    console = current()
    return {"ctx": console.context, "csrf_field": CSRF_FIELD, "csrf_token": console.guard.csrf, "link": pages.link}


def _denied(status: int, why: str) -> Response:
    return Response(render_template("denied.html", why=why), status=status)


def _without_token() -> str:
    rest = [(k, v) for k, v in request.args.items(multi=True) if k != TOKEN_PARAM]
    return request.base_url + (f"?{urlencode(rest)}" if rest else "")


def _check_access() -> BaseResponse | None:
    """Refuse what does not come from this machine with this run's token, and forms without the CSRF token."""
    console = current()
    guard = console.guard
    if not loopback_host(request.host):
        return _denied(403, "This console answers only to 127.0.0.1 and localhost.")
    given = request.args.get(TOKEN_PARAM)
    if given is not None:
        if not guard.token_ok(given):
            return _denied(403, "The token in this URL is not this console's.")
        if request.method in SAFE_METHODS:
            # The token leaves the address bar (and the history) at once; the cookie carries it from here.
            response = redirect(_without_token(), code=303)
            response.set_cookie(
                guard.cookie_name,
                guard.token,
                httponly=True,
                samesite="Strict",
                path=f"{request.script_root}/",
            )
            return response
    elif not guard.token_ok(request.cookies.get(guard.cookie_name)):
        return _denied(401, "Open the URL with ?token=… that the console printed when it started.")
    if request.method not in SAFE_METHODS and not guard.csrf_ok(request.form.get(CSRF_FIELD)):
        return _denied(403, "This form's CSRF token is missing or wrong: reload the page and submit it again.")
    return None


def _secure_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # URLs can carry the token or a filter's text: never send them on to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
