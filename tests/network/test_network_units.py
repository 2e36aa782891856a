"""enectiva.network: which proxy a URL goes through, CA bundle checks, credentials kept out."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from enectiva import network
from enectiva.fatal import fatal_line

API = "https://api.enectiva.cz/import/readings"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "http://proxy:3128"),
        ({"https_proxy": "proxy:3128"}, "http://proxy:3128"),
        ({"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:2"}, "http://low:1"),
        ({"HTTP_PROXY": "http://proxy:3128"}, None),  # an https URL: HTTPS_PROXY only
        ({"ALL_PROXY": "http://all:1"}, "http://all:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "enectiva.cz"}, None),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": "localhost, .enectiva.cz"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.enectiva.cz:443"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.enectiva.cz:8443"}, "http://p:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "nectiva.cz,10.0.0.0/8"}, "http://p:1"),
    ],
)
def test_proxy_for_reads_the_environment_like_curl(
    environ: dict[str, str], expected: str | None
) -> None:
    proxy = network.proxy_for(API, environ)
    assert (proxy.url if proxy else None) == expected


def test_no_proxy_takes_ip_networks() -> None:
    environ = {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}
    assert network.proxy_for("https://10.1.2.3/x", environ) is None
    assert network.proxy_for("https://11.1.2.3/x", environ) is not None


def test_proxy_credentials_are_split_off_and_kept_out_of_repr() -> None:
    proxy = network.proxy_for(API, {"HTTPS_PROXY": "http://me:p%40ss@proxy:3128"})
    assert proxy is not None
    assert (proxy.url, proxy.username, proxy.password) == ("http://proxy:3128", "me", "p@ss")
    assert "p@ss" not in repr(proxy) and "p%40ss" not in repr(proxy)


def test_fatal_line_hides_the_proxy_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://me:hunter22@proxy:3128")
    line = fatal_line("tap-enectiva", "proxy said no to hunter22 at http://me:hunter22@proxy:3128")
    assert "hunter22" not in line
    assert line == "tap-enectiva: error: proxy said no to *** at http://***@proxy:3128"


def test_scrub_userinfo_blanks_any_url_credentials() -> None:
    text = "url='http://u:pw@127.0.0.1:9' then https://token@host/x and mailto a@b"
    assert network.scrub_userinfo(text) == (
        "url='http://***@127.0.0.1:9' then https://***@host/x and mailto a@b"
    )


def test_ca_bundle_error_names_the_setting(tmp_path: Path) -> None:
    ca = trustme.CA()
    good = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(good))
    assert network.ca_bundle_error(str(good)) is None
    assert network.ca_bundle_error(None) is None
    missing = tmp_path / "missing.pem"
    assert network.ca_bundle_error(str(missing)) == (
        f"ca_bundle {missing}: no such file; set it to the PEM file of your CA"
    )
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("not a certificate\n")
    error = network.ca_bundle_error(str(not_pem))
    assert error is not None and error.startswith(f"ca_bundle {not_pem}: holds no PEM")
    error = network.ca_bundle_error(str(tmp_path))
    assert error is not None and error.startswith(f"ca_bundle {tmp_path}:")


def test_verification_settings() -> None:
    assert network.requests_verify(True, None) is True
    assert network.requests_verify(True, "/ca.pem") == "/ca.pem"
    assert network.requests_verify(False, "/ca.pem") is False
    assert network.ssl_context(True, None) is True
    assert network.ssl_context(False, None) is False


def test_ssl_context_trusts_the_bundle_and_verifies(tmp_path: Path) -> None:
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    context = network.ssl_context(True, str(path))
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) == 1
