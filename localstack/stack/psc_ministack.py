"""MiniStack as the local stack serves it: MiniStack's own ASGI application
(``app``), with two changes to the cost of its IAM check and none to its
answers.

A CPU profile of the emulator under the load generator (py-spy,
docs/performance.md) found about a quarter of its time in the IAM check
(AUTH=true), most of it spent twice per request on the same work:

- ``request_caller_arn`` (which ``pin_request_caller`` runs on every
  request) resolved the caller's whole principal, reading and parsing every
  policy document of its role, only to return its ARN. The ARN is the
  credential's own; it is now read from ``resolve_credential`` alone, with
  the same fallback (the account's root) on every failure.
- ``parse_policy_document`` parsed the same JSON text of the same role's
  policies on every request. A document's parse depends on its text only,
  so it is kept by text: a changed policy is a new text and parses anew.

``enforce`` still resolves the principal and evaluates every statement on
every request, as before. The changes apply to the MiniStack version the
project pins (scripts/requirements.txt) only; with any other, the
application is served unchanged and a line says so.
"""

import functools
import importlib.metadata
import sys

from ministack.core import iam_evaluator as _ev

PINNED = "1.5.33"

_parse = _ev.parse_policy_document


@functools.lru_cache(maxsize=4096)
def _parse_text(doc):
    return tuple(_parse(doc))


def parse_policy_document(doc):
    """The statements of a policy document; a JSON text's are kept."""
    if isinstance(doc, str):
        return list(_parse_text(doc))
    return _parse(doc)


_PRINCIPALS = frozenset({"Root", "User", "AssumedRole", "FederatedUser"})


def request_caller_arn(headers, query_params=None):
    """The request's principal ARN for resource-policy checks, or the
    caller account's root ARN: the answer of MiniStack's own, without
    gathering the principal's policies."""
    from ministack.core.responses import _account_from_sts_session, get_account_id
    from ministack.core.router import extract_access_key_id

    fallback = f"arn:aws:iam::{get_account_id()}:root"
    try:
        key = extract_access_key_id(headers or {}, query_params or {})
        if not key:
            return fallback
        cred = _ev.resolve_credential(key, _account_from_sts_session(key) or get_account_id())
    except Exception:
        return fallback
    if (isinstance(cred, _ev.CredentialResolutionError) or cred.principal_type not in _PRINCIPALS
            or not cred.principal_arn):
        return fallback
    return cred.principal_arn


if importlib.metadata.version("ministack") == PINNED:
    _ev.parse_policy_document = parse_policy_document
    _ev.request_caller_arn = request_caller_arn
else:
    print(f"psc_ministack: MiniStack {importlib.metadata.version('ministack')} is not {PINNED}: "
          "its IAM check is served unchanged", file=sys.stderr)

from ministack.app import app  # noqa: E402  (after the changes above)
