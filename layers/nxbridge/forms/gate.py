"""The browser side of form endpoints, as the ingest uses it: preflights, fill tokens, spam screening, answers.

``Ingest`` hands every request of a ``form`` endpoint here around its usual pipeline: ``preflight`` answers
``OPTIONS``, ``fill_token`` answers ``GET /webhooks/{endpoint}/token``, ``screen`` runs on the parsed form before
mapping, and ``answer`` turns the JSON answer into what the client asked for (a redirect or page for a browser,
JSON with CORS headers for ``fetch()``). What cannot be served is raised as a ``Rejection``. The rules themselves
live beside this module: ``cors``, ``spam`` and ``answers``.
"""

from __future__ import annotations

from nxbridge.endpoints import ConfigError, Endpoint, FormEndpoint, MissingSecret, SecretStore
from nxbridge.forms.answers import FieldProblem, browser_answer, field_problems, wants_html
from nxbridge.forms.cors import VARY, preflight_headers, response_headers
from nxbridge.forms.spam import issue_fill_token, screen
from nxbridge.observability import logger
from nxbridge.outcomes import HeldBack, WebhookResponse
from nxbridge.rejections import (
    ConfigUnavailable,
    FillTimeRejected,
    NoFillToken,
    OriginNotAllowed,
    Rejection,
    ValidationFailed,
)
from nxbridge.sources import MalformedPayload, WebhookRequest, source_for
from nxbridge.sources.form import FormData, field_of

__all__ = ["FormGate"]


class FormGate:
    """Form-endpoint behaviour that needs the request, the endpoint and (for fill tokens) the secrets."""

    def __init__(self, secrets: SecretStore) -> None:
        self._secrets = secrets

    def preflight(self, request: WebhookRequest, endpoint: Endpoint) -> WebhookResponse:
        """The answer to ``OPTIONS``: 204 with CORS headers; OriginNotAllowed when the origin may not post."""
        config = _form(endpoint)
        origin = request.header("origin")
        if origin is None:
            # Not a CORS preflight (no browser sends one without Origin): say what the route takes.
            return WebhookResponse(204, {}, {"allow": "OPTIONS, POST", **VARY}, text="")
        allow_headers = ["content-type", config.form.delivery_id_header]
        if endpoint.secret_name is not None:
            allow_headers.append(config.form.secret_header)
        headers = preflight_headers(origin, config.form, allow_headers)
        if headers is None:
            raise OriginNotAllowed
        return WebhookResponse(204, {}, headers, text="")

    def fill_token(self, request: WebhookRequest, endpoint: Endpoint) -> WebhookResponse:
        """A fresh fill token for the endpoint's page; NoFillToken when the endpoint checks no fill time.

        ConfigUnavailable when the token key is missing from the secrets.
        """
        options = _form(endpoint).form
        if options.min_fill_seconds is None:
            raise NoFillToken
        token = issue_fill_token(self._keys(endpoint)[0], endpoint.name, request.received_at)
        body = {
            "field": options.fill_token_field,
            "token": token,
            "minFillSeconds": options.min_fill_seconds,
            "maxAgeSeconds": options.fill_token_max_age_seconds,
        }
        headers = {"cache-control": "no-store", **response_headers(request.header("origin"), options)}
        return WebhookResponse(200, body, headers)

    def screen(self, request: WebhookRequest, endpoint: Endpoint, form: FormData) -> HeldBack | None:
        """A post held back without a word (honeypot), or None; FillTimeRejected when the fill time is not proven.

        ConfigUnavailable when the token key is missing from the secrets.
        """
        options = _form(endpoint).form
        spam = screen(form, options, endpoint.name, request.received_at, lambda: self._keys(endpoint))
        if spam is None:
            return None
        if spam.silent:
            return HeldBack(spam.reason)
        raise FillTimeRejected(spam.reason)

    def answer(
        self,
        request: WebhookRequest,
        endpoint: Endpoint,
        response: WebhookResponse,
        rejection: Rejection | None = None,
    ) -> WebhookResponse:
        """``response`` (the answer to ``rejection``, if any) as the client wants it: a page or JSON, with CORS."""
        config = _form(endpoint)
        cors = response_headers(request.header("origin"), config.form)
        problems: list[FieldProblem] = []
        if isinstance(rejection, ValidationFailed):
            form = _parsed(request, endpoint)
            problems = field_problems(rejection.problems, lambda target: field_of(target, form, config))
        if not wants_html(request.header("accept")):
            # Beside NXCloud's field names, a page's script gets the form's own: {"email": "invalid", ...}.
            body = {**response.body, "fields": {p.field: p.code for p in problems}} if problems else response.body
            return WebhookResponse(response.status, body, {**response.headers, **cors}, response.text)
        page = browser_answer(rejection, config.form, problems=problems, request_id=request.request_id)
        return WebhookResponse(page.status, response.body, {**page.headers, **cors}, page.html)

    def _keys(self, endpoint: Endpoint) -> tuple[str, ...]:
        try:
            return self._fill_token_keys(endpoint)
        except ConfigError as exc:
            logger.error("fill-token key unavailable", extra={"endpoint": endpoint.name, "detail": str(exc)})
            raise ConfigUnavailable from exc

    def _fill_token_keys(self, endpoint: Endpoint) -> tuple[str, ...]:
        name = _form(endpoint).form.fill_token_secret or endpoint.secret_name
        # A key added after the cached read is looked up once more, bypassing the cache (as signatures are).
        keys = (self._secrets.get(name) or self._secrets.get(name, refresh=True)) if name is not None else None
        if not keys:
            raise MissingSecret(f"no fill-token key named {name!r} in the webhook secrets")
        return keys


def _form(endpoint: Endpoint) -> FormEndpoint:
    config = endpoint.config
    assert isinstance(config, FormEndpoint)
    return config


def _parsed(request: WebhookRequest, endpoint: Endpoint) -> FormData:
    # Only a readable post gets field errors, so this parse succeeds; the guard keeps an answer possible anyway.
    try:
        form: FormData = source_for("form").parse(request, endpoint.config)
    except MalformedPayload:
        return {}
    return form
