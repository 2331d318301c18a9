"""What a person gets back from a browser form post: a redirect to the site's own page, or a built-in page.

A post whose ``Accept`` prefers HTML (what browsers send when they navigate) gets ``303 See Other`` to the
endpoint's ``success_url`` / ``error_url``, or, when none is set, a small built-in page (200 on success, the
error's own status otherwise: 422 for field errors). ``fetch()`` and API clients keep the JSON answers. The
error redirect carries ``error=<code>`` and one ``<form field>=<required|too_long|invalid>`` pair per field,
never a submitted value. Every built-in page escapes all it shows and forbids scripts. The words come from the
rejection's class (``nxbridge.rejections``) and the field codes from the contract's ``FieldError.code``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from nxbridge.contract.models import PHONE_LIKE_FIELDS
from nxbridge.forms.options import FormOptions
from nxbridge.rejections import (
    FieldIssue,
    FillTimeRejected,
    MalformedBody,
    PayloadTooLarge,
    Rejection,
    RetryLater,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)

# The contact rule ("at least one of sms_phone, email, ... is required") and a missing name (which only happens
# when no contact was given either) are one problem for a visitor: name it after no single field.
CONTACT = "contact"
# What a visitor is told to correct, by the contract's error code (FieldError.code); anything else is "invalid".
_VISITOR_CODES = {"missing": "required", "string_too_long": "too_long"}
_HTML_MEDIA = ("text/html", "application/xhtml+xml")
_PAGE_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}
_RETRY_LATER = "We could not take your form right now. Please try again in a minute."
_UNREADABLE = "The form could not be read. Please go back and send it again."
# By rejection class, the first match along the class's bases (every RetryLater gets the same words).
_MESSAGES: dict[type[Rejection], str] = {
    FillTimeRejected: "The form could not be accepted this time. "
    "Please reload the page, wait a few seconds and send it again.",
    PayloadTooLarge: "The form is too large to be sent. Please shorten it or leave out attached files.",
    MalformedBody: _UNREADABLE,
    UnsupportedMediaType: _UNREADABLE,
    Unauthorized: "This form is not set up to send here. Please tell the site's owner.",
    RetryLater: _RETRY_LATER,
}
_OTHER = "The form could not be sent. Please go back and try again."
_BACK = "Use your browser's Back button to return to the form: what you typed is still there."
_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;padding:3rem 1rem;color:#1f2328;background:#f6f8fa}"
    "main{max-width:32rem;margin:auto;padding:2rem;background:#fff;border:1px solid #d0d7de;border-radius:8px}"
    "h1{font-size:1.4rem;margin-top:0}small{color:#656d76}"
)


@dataclass(frozen=True)
class FieldProblem:
    """One field a visitor must correct: the form's field name, a code, and the NXCloud field (for the wording)."""

    field: str
    code: str
    target: str


@dataclass(frozen=True)
class BrowserAnswer:
    """An answer for a person: a redirect (empty ``html``) or a page."""

    status: int
    headers: dict[str, str]
    html: str


def wants_html(accept: str | None) -> bool:
    """Whether the client prefers an HTML page to JSON (browsers navigating do; ``fetch()`` sends ``*/*``)."""
    html_q, json_q = 0.0, -1.0
    for item in (accept or "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media in _HTML_MEDIA:
            html_q = max(html_q, quality)
        elif media == "application/json":
            json_q = max(json_q, quality)
    return html_q > 0 and html_q > json_q


def field_problems(issues: Sequence[FieldIssue], label: Callable[[str], str]) -> list[FieldProblem]:
    """The problems of a ValidationFailed as a visitor's field problems (``label`` names the form field)."""
    problems: dict[tuple[str, str], FieldProblem] = {}
    for issue in issues:
        target = issue.field
        code = _VISITOR_CODES.get(issue.code or "", "invalid")
        if target in ("customer", "customers") or (target == "full_name" and code == "required"):
            problem = FieldProblem(CONTACT, "required", CONTACT)
        else:
            problem = FieldProblem(label(target), code, target)
        problems.setdefault((problem.field, problem.code), problem)
    return list(problems.values())


def browser_answer(
    rejection: Rejection | None, options: FormOptions, *, problems: Sequence[FieldProblem], request_id: str
) -> BrowserAnswer:
    """The answer for a person: a success when ``rejection`` is None, else for that rejection and its problems."""
    if rejection is None:
        if options.success_url is not None:
            return _redirect(options.success_url)
        return _page(200, "Thank you!", ["Your form has been sent."], hint="You can close this page now.")
    if options.error_url is not None:
        pairs = [("error", rejection.code), *((p.field, p.code) for p in problems)]
        return _redirect(_with_query(options.error_url, pairs))
    reference = f"Reference: {request_id}"
    if isinstance(rejection, ValidationFailed):
        sentences = [_sentence(p) for p in problems]
        lead = ["Some fields need your attention:"]
        return _page(422, "Please check the form", lead, items=sentences, hint=_BACK, reference=reference)
    message = next((_MESSAGES[c] for c in type(rejection).__mro__ if c in _MESSAGES), _OTHER)
    return _page(rejection.status, "The form was not sent", [message], reference=reference)


def _sentence(problem: FieldProblem) -> str:
    if problem.field == CONTACT:
        return "Please give an e-mail address or a phone number."
    name = f"“{problem.field}”"
    if problem.code == "required":
        return f"{name} is required."
    if problem.code == "too_long":
        return f"{name} is too long."
    if problem.target == "email":
        return f"{name} is not a valid e-mail address."
    if problem.target in PHONE_LIKE_FIELDS:
        return f"{name} is not a valid phone number."
    if problem.target == "birthday":
        return f"{name} must be a date like 1990-04-18."
    return f"{name} is not valid."


def _with_query(url: str, pairs: Sequence[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *pairs])
    return urlunsplit(parts._replace(query=query))


def _redirect(location: str) -> BrowserAnswer:
    return BrowserAnswer(303, {"location": location, "cache-control": "no-store"}, "")


def _page(
    status: int, title: str, lead: Sequence[str], *, items: Sequence[str] = (), hint: str = "", reference: str = ""
) -> BrowserAnswer:
    esc = html.escape
    parts = [f"<h1>{esc(title)}</h1>", *(f"<p>{esc(text)}</p>" for text in lead)]
    if items:
        parts.append("<ul>" + "".join(f"<li>{esc(item)}</li>" for item in items) + "</ul>")
    if hint:
        parts.append(f"<p>{esc(hint)}</p>")
    if reference:
        parts.append(f"<p><small>{esc(reference)}</small></p>")
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">'
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body><main>{''.join(parts)}</main></body></html>\n"
    )
    return BrowserAnswer(status, dict(_PAGE_HEADERS), page)
