"""The web terminal's frame: pages in both languages, the session cookie, CSRF, headers, and
refusals from the gateway shown as pages.  The parts (board, site, kiosk) have their own tests."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from keyun.terminals.client import KeyunError
from keyun.terminals.web.gateway import WebGateway
from keyun.terminals.web.session import COOKIE, Sealer, Session
from keyun.v1 import accounts_pb2

from .conftest import screenshot


def test_the_start_page_speaks_chinese_and_switches_to_english(web, page):
    page.goto(web.url + "/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "客运站服务"
    page.get_by_role("link", name="English").click()
    assert page.locator("h1").inner_text() == "Station services"
    page.goto(web.url + "/")  # the choice stays with the session
    assert page.locator("h1").inner_text() == "Station services"
    screenshot(page, "home")


def test_the_session_cookie_is_httponly_samesite_and_sealed(web, page):
    page.goto(web.url + "/")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert not cookie["secure"]  # loopback: plain HTTP, where browsers keep it anyway
    assert "zh" not in cookie["value"]  # sealed, not readable JSON
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it


def test_a_post_without_the_session_csrf_token_is_refused(web):
    request = urllib.request.Request(web.url + "/", data=b"x=1", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403


def test_pages_are_not_cached_framed_or_given_foreign_scripts(web):
    with urllib.request.urlopen(web.url + "/", timeout=5) as reply:
        headers = reply.headers
    assert headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_an_unknown_page_is_a_page_in_the_visitors_language(web, page):
    reply = page.goto(web.url + "/no-such-page?lang=en")
    assert reply.status == 404
    assert page.get_by_role("alert").inner_text().startswith("Something went wrong")


def test_a_tampered_cookie_starts_a_new_session():
    sealer = Sealer(bytes(32))
    cookie = sealer.seal(Session(access="secret-token", lang="en"))
    assert sealer.open(cookie).access == "secret-token"
    tampered = cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB")
    assert sealer.open(tampered).access == ""
    assert Sealer(bytes([1]) * 32).open(cookie).access == ""


def test_the_web_gateway_client_reports_refusals_with_their_reason(keyun):
    async def login_with_a_wrong_password():
        gateway = WebGateway(keyun.target)
        try:
            await gateway.call(gateway.accounts.Login, accounts_pb2.LoginRequest(login_name="seller", password="wrong"))
        finally:
            await gateway.close()

    # Its own thread: Playwright's sync API keeps an event loop on this one.
    with ThreadPoolExecutor(1) as thread, pytest.raises(KeyunError) as refused:
        thread.submit(asyncio.run, login_with_a_wrong_password()).result()
    assert refused.value.reason and refused.value.reason_code


def test_the_kiosk_pages_answer_loopback_and_the_kiosk_networks_only():
    import ipaddress

    from keyun.terminals.web.app import kiosk_client

    hall = (ipaddress.ip_network("10.20.0.0/24"),)
    assert kiosk_client("127.0.0.1", ()) and kiosk_client("::1", ())
    assert not kiosk_client("10.20.0.7", ()) and kiosk_client("10.20.0.7", hall)
    assert not kiosk_client("10.20.1.7", hall) and not kiosk_client("", hall) and not kiosk_client(None, hall)
