"""Corporate networks, the same for tap and target: proxies, a private CA, no proxy password out.

- **Proxies** come from the environment (``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``, upper
  or lower case): requests reads them by default (``trust_env``), aiohttp when its session is
  made with ``trust_env=True``. Credentials in a proxy URL (``http://user:pass@proxy:3128``)
  are sent as ``Proxy-Authorization`` and must never be printed: :func:`proxy_secrets` lists
  them for redaction and :func:`scrub_userinfo` blanks any ``user:pass@`` of a URL.
- **A private CA** (TLS inspection, an internal API gateway): the setting ``ca_bundle`` names a
  PEM file whose certificates are trusted *instead of* the default ones (as curl's ``--cacert``
  and ``REQUESTS_CA_BUNDLE`` do); verification stays on. ``verify_tls: false`` turns
  verification off (test servers only) and wins over ``ca_bundle``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

#: The setting naming the PEM file of the CA(s) to trust.
CA_BUNDLE = "ca_bundle"
#: Its description in both plugins' settings.
CA_BUNDLE_DESCRIPTION = (
    "Path to a PEM file of the CA certificates to trust instead of the default ones "
    "(a corporate or private CA, TLS inspection); verification stays on."
)
#: The environment variables a proxy URL (perhaps with credentials) is read from.
PROXY_VARIABLES = tuple(
    name for base in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY") for name in (base, base.lower())
)

# ``scheme://user:password@`` (or ``scheme://user@``): the userinfo of a URL, blanked.
_USERINFO = re.compile(r"(?<=://)[^\s/@:'\"]+(?::[^\s/@'\"]*)?@")


def ca_bundle_error(path: str | None) -> str | None:
    """Why ``ca_bundle`` cannot be used, in one line naming the setting; None when it can."""
    if not path:
        return None
    try:
        ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        return f"{CA_BUNDLE} {path}: no such file; set it to the PEM file of your CA"
    except (IsADirectoryError, NotADirectoryError):
        return f"{CA_BUNDLE} {path}: not a file; set it to the PEM file of your CA"
    except PermissionError:
        return f"{CA_BUNDLE} {path}: cannot be read (permission denied)"
    except ssl.SSLError:
        return f"{CA_BUNDLE} {path}: holds no PEM certificate; set it to your CA's PEM file"
    except OSError as exc:
        return f"{CA_BUNDLE} {path}: cannot be read ({exc.strerror or type(exc).__name__})"
    return None


def requests_verify(verify_tls: bool, ca_bundle: str | None) -> bool | str:
    """``verify`` for requests: off, the CA file, or the default CAs."""
    if not verify_tls:
        return False
    return ca_bundle or True


def ssl_context(verify_tls: bool, ca_bundle: str | None) -> ssl.SSLContext | bool:
    """``ssl`` for aiohttp's connector: off, a context trusting the CA file, or the default."""
    if not verify_tls:
        return False
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    return True


@dataclass(frozen=True)
class Proxy:
    """The forward proxy a URL is reached through: its URL without credentials, and those."""

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def proxy_for(url: str, environ: Mapping[str, str] | None = None) -> Proxy | None:
    """The proxy the environment names for ``url`` (None: direct), as requests and curl read it.

    ``<scheme>_proxy`` else ``all_proxy`` (lower case first, then upper case); ``no_proxy``
    lists hosts reached directly: ``*``, a host or domain (``example.com`` also covers
    ``api.example.com``), ``host:port``, or an IP network (``10.0.0.0/8``).
    """
    env = os.environ if environ is None else environ

    def variable(name: str) -> str:
        return (env.get(name) or env.get(name.upper()) or "").strip()

    parts = urlsplit(url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    if parts.hostname is None or _bypassed(parts.hostname, port, variable("no_proxy")):
        return None
    value = variable(f"{parts.scheme}_proxy") or variable("all_proxy")
    if not value:
        return None
    proxy = urlsplit(value if "://" in value else f"http://{value}")
    host = proxy.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if proxy.port is not None:
        netloc += f":{proxy.port}"
    return Proxy(
        url=f"{proxy.scheme}://{netloc}",
        username=unquote(proxy.username) if proxy.username is not None else None,
        password=unquote(proxy.password) if proxy.password is not None else None,
    )


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether ``no_proxy`` sends ``host`` (on ``port``) past the proxy."""
    host = host.lower().strip("[]")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        if entry_port and port is not None and entry_port != str(port):
            continue
        name = name.strip("[]").lstrip(".")
        if "/" in name:
            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        if host == name or host.endswith("." + name):
            return True
    return False


def _has_port(entry: str) -> bool:
    """``host:port`` or ``[v6]:port``, not a bare IPv6 address."""
    if entry.startswith("["):
        return "]:" in entry
    return entry.count(":") == 1


def proxy_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """The passwords (and ``user:password`` pairs) of the proxy URLs in the environment."""
    environ = os.environ if environ is None else environ
    found: list[str] = []
    for name in PROXY_VARIABLES:
        value = environ.get(name)
        if not value:
            continue
        try:
            parts = urlsplit(value if "://" in value else f"http://{value}")
            password = parts.password
        except ValueError:
            continue
        if password:
            user = parts.username or ""
            found += [f"{user}:{password}", password, unquote(password)]
    return [s for s in dict.fromkeys(found) if s]


def scrub_userinfo(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL in it replaced by ``***@``."""
    return _USERINFO.sub("***@", text)


def certificate_refused(reason: str = "") -> str:
    """What to do about a server certificate that is not trusted (it never heals by retrying).

    One wording for tap and target; the reason (e.g. ``unable to get local issuer
    certificate``) is a detail that gives way first in a long fatal line.
    """
    detail = f" ({reason})" if reason else ""
    return (
        f"TLS certificate not accepted{detail}; set ca_bundle (your CA's PEM file) or, on "
        "test servers only, verify_tls: false"
    )


def proxy_refused(answer: str) -> str:
    """A proxy that answered the tunnel request with an error (``answer``: ``407 Proxy
    Authentication Required``); the reason phrase is a detail that may give way."""
    status, _, phrase = answer.strip().partition(" ")
    detail = f" ({phrase.strip()})" if phrase.strip() else ""
    return f"the proxy refused the tunnel: HTTP {status}{detail}; check HTTPS_PROXY"


def proxy_unreachable(cause: str) -> str:
    """A proxy that could not be connected to."""
    return f"cannot connect to the proxy ({cause}); check HTTPS_PROXY"
