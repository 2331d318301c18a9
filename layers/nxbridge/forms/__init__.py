"""Everything a browser form needs beyond the ``form`` source adapter (``nxbridge.sources.form``).

- ``options``: the ``form`` block of an endpoint (``FormOptions``), validated with the endpoint document;
- ``cors``: which pages may read the answers, and the preflight;
- ``spam``: the honeypot and the fill tokens;
- ``answers``: what a person sees (a redirect or a built-in page), chosen by the rejection's class;
- ``gate``: what the ingest calls for a form endpoint (``FormGate``).

Only the options are imported here: ``nxbridge.endpoints`` needs them (and the gate needs ``endpoints``, so importing
it here would make a cycle), and every function reads endpoint documents while few serve forms.
"""

from nxbridge.forms.options import FormOptions

__all__ = ["FormOptions"]
