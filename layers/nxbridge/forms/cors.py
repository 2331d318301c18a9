"""CORS for form endpoints: which pages may read the answers, and the preflight a ``fetch()`` sends first.

Each endpoint has its own allowlist (``form.allowed_origins``), so the function answers CORS itself; template.yaml
sets no HttpApi CorsConfiguration. CORS only decides whether a page's script may *read* an answer: a plain HTML
form post is sent (and processed) whatever its origin, and so is any request from outside a browser.
"""

from __future__ import annotations

from collections.abc import Sequence

from nxbridge.forms.options import FormOptions

ALLOWED_METHODS = "POST"
# Preflights are answered by the function: tell caches the answer differs by Origin.
VARY = {"vary": "Origin"}


def allowed_origin(origin: str | None, options: FormOptions) -> str | None:
    """The ``Access-Control-Allow-Origin`` value for a request from ``origin``, or None when it is not allowed."""
    if not origin or not options.allowed_origins:
        return None
    if "*" in options.allowed_origins:
        # The wildcard is refused with credentials by the configuration; a literal "*" is then the right answer.
        return "*"
    normalized = origin.strip().lower()
    return normalized if normalized in options.allowed_origins else None


def response_headers(origin: str | None, options: FormOptions) -> dict[str, str]:
    """Headers every answer of a form endpoint carries: Vary, and the allow-origin pair for an allowed origin."""
    headers = dict(VARY)
    allowed = allowed_origin(origin, options)
    if allowed is not None:
        headers["access-control-allow-origin"] = allowed
        if options.allow_credentials:
            headers["access-control-allow-credentials"] = "true"
    return headers


def preflight_headers(origin: str, options: FormOptions, allow_headers: Sequence[str]) -> dict[str, str] | None:
    """The answer headers of a preflight from ``origin`` (204), or None when the origin is not allowed (403).

    ``allow_headers`` are the request headers a page may set (content-type and the endpoint's own headers).
    """
    headers = response_headers(origin, options)
    if "access-control-allow-origin" not in headers:
        return None
    return {
        **headers,
        "access-control-allow-methods": ALLOWED_METHODS,
        "access-control-allow-headers": ", ".join(allow_headers),
        "access-control-max-age": str(options.cors_max_age_seconds),
    }
