"""The credentials in a database URL: masked wherever the spec is stored or printed, read from the
environment only when the data is read.
"""

from __future__ import annotations

import os
import re

from ..exceptions import ProblemSpecError

__all__ = ["mask_url", "resolve_url", "url_secrets"]

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_URL_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*:)(?P<secret>[^@/?#]*)(?=@)")
#: Query keys whose values are credentials, masked wherever a URL is stored or printed.
_SECRET_KEYS = ("password", "passwd", "pwd", "pass", "token", "access_token", "auth_token", "secret", "api_key",
                "apikey", "sslpassword", "private_key", "credentials")
_URL_QUERY_SECRET = re.compile(r"(?P<head>[?&;](?:" + "|".join(_SECRET_KEYS) + r")=)(?P<secret>[^&;#]*)",
                               re.IGNORECASE)


def mask_url(url: str) -> str:
    """``url`` with its password and credential query values replaced by ``***``.

    A ``${VARIABLE}`` reference is kept as written: it names where the secret is, not the secret.

    Examples
    --------
    >>> mask_url("postgresql://ana:s3cret@db:5432/crm?sslmode=require&password=x1")
    'postgresql://ana:***@db:5432/crm?sslmode=require&password=***'
    >>> mask_url("postgresql://ana:${PGPASSWORD}@db/crm")
    'postgresql://ana:${PGPASSWORD}@db/crm'
    """
    def hide(match: re.Match) -> str:
        secret = match.group("secret")
        return match.group("head") + (secret if not secret or _ENV_REFERENCE.fullmatch(secret) else "***")

    return _URL_QUERY_SECRET.sub(hide, _URL_PASSWORD.sub(hide, url))


def url_secrets(url: str) -> list[str]:
    """The credentials written in ``url`` (its password and credential query values), longest first.

    >>> url_secrets("mysql://ana:pw1@db/crm?token=t0k")
    ['pw1', 't0k']
    """
    found = [m.group("secret") for m in (*_URL_PASSWORD.finditer(url), *_URL_QUERY_SECRET.finditer(url))]
    return sorted({f for f in found if f}, key=lambda f: (-len(f), f))


def resolve_url(url: str) -> str:
    """``url`` with each ``${VARIABLE}`` replaced by its value from the environment (at read time only).

    Raises :class:`~mlsmith.exceptions.ProblemSpecError` naming a variable that is not set.
    """
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ProblemSpecError(f"'data.url' refers to ${{{name}}}, which is not set in the environment; "
                                   f"set it (export {name}=...) before the run.")
        return os.environ[name]

    return _ENV_REFERENCE.sub(value, url)
