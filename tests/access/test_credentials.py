"""What a request says about its caller: credentials in their order, malformed ones refused,
and X-Forwarded-* believed from trusted proxies only. Pure parsing, no sockets."""

import base64

import pytest

from camserver.access.credentials import MAX_HEADER, Client, TrustedProxies, credentials_of

LOCAL = Client("127.0.0.1", "http", False)
LAN = Client("192.168.1.20", "http", False)


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_bearer_then_basic_then_query_token_then_cookie():
    cookie = {"Cookie": "camserver_session=abc"}
    assert credentials_of({"Authorization": "Bearer t0k3n", **cookie}, "/x?token=q", LAN).bearer \
        == "t0k3n"
    both = credentials_of({"Authorization": basic("alice:pw:with:colons"), **cookie},
                          "/x?token=q", LAN)
    assert both.basic == ("alice", "pw:with:colons") and both.bearer is None
    assert credentials_of(cookie, "/x?format=ts&token=q", LAN).bearer == "q"
    from_cookie = credentials_of({"Cookie": "other=1; camserver_session=abc"}, "/x", LAN)
    assert from_cookie.session == "abc" and from_cookie.given
    nothing = credentials_of({}, "/x?format=ts", LAN)
    assert not nothing.given and not nothing.loopback
    assert credentials_of({}, "/", LOCAL).loopback


def test_schemes_are_case_insensitive_and_basic_may_have_an_empty_password():
    assert credentials_of({"Authorization": "bearer abc"}, "/", LAN).bearer == "abc"
    assert credentials_of({"Authorization": basic("bob:").replace("Basic", "BASIC")}, "/",
                          LAN).basic == ("bob", "")


@pytest.mark.parametrize("header, reason", [
    ("Basic !!!", "not base64"),
    ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), "not base64 of UTF-8"),
    (basic("no-colon-here"), "without a colon"),
    ("Basic", "unknown Authorization scheme"),
    ("Bearer", "unknown Authorization scheme"),
    ("Bearer    ", "unknown Authorization scheme"),
    ("Digest username=alice", "unknown Authorization scheme"),
    ("", "unknown Authorization scheme"),
    ("Bearer " + "x" * MAX_HEADER, "too long"),
])
def test_an_authorization_header_that_cannot_be_read_is_malformed_never_ignored(header, reason):
    credentials = credentials_of({"Authorization": header}, "/x?token=good", LAN)
    assert credentials.malformed and reason in credentials.malformed
    assert credentials.given and credentials.bearer is None and credentials.basic is None


@pytest.mark.parametrize("cookie", [
    'camserver_session="unterminated',
    "=;;;=;",
    "camserver_session=",
    "x" * (MAX_HEADER + 1),
    "camserver_session=" + "a" * MAX_HEADER,
])
def test_an_unreadable_cookie_header_is_no_cookie(cookie):
    # Other programs on the same host share its cookies: a Cookie header we cannot read is not
    # a credential. (A readable session cookie that is not ours is refused by the accounts.)
    assert not credentials_of({"Cookie": cookie}, "/", LAN).given


def test_the_query_token_is_url_decoded_and_the_first_one_counts():
    assert credentials_of({}, "/cam?token=a%2Bb%20c&token=second", LAN).bearer == "a+b c"
    assert credentials_of({}, "/cam?token=", LAN).bearer is None  # empty: no token


def test_forwarded_headers_are_believed_only_from_a_trusted_proxy():
    proxies = TrustedProxies(("10.0.0.1", "172.16.0.0/12"))
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    believed = proxies.client("10.0.0.1", forwarded, tls=False)
    assert believed == Client("203.0.113.9", "https", True)
    assert proxies.client("172.20.1.2", forwarded, tls=False).address == "203.0.113.9"
    ignored = proxies.client("192.168.1.20", forwarded, tls=False)
    assert ignored == Client("192.168.1.20", "http", False)
    assert TrustedProxies().client("10.0.0.1", forwarded, tls=True) == \
        Client("10.0.0.1", "https", False)


def test_the_client_is_the_right_most_address_that_is_not_a_trusted_proxy():
    proxies = TrustedProxies(("10.0.0.0/8",))
    headers = {"X-Forwarded-For": "1.1.1.1, 198.51.100.7, 10.0.0.5"}  # 1.1.1.1 is a lie
    assert proxies.client("10.0.0.1", headers, tls=False).address == "198.51.100.7"
    only_proxies = {"X-Forwarded-For": "10.0.0.9"}
    assert proxies.client("10.0.0.1", only_proxies, tls=False).address == "10.0.0.9"
    assert proxies.client("10.0.0.1", {}, tls=False) == Client("10.0.0.1", "http", True)
    assert proxies.client("10.0.0.1", {"X-Forwarded-Proto": "gopher"}, tls=True).scheme == \
        "https"


def test_a_proxied_request_never_counts_as_loopback():
    proxies = TrustedProxies(("127.0.0.1",))
    claims_loopback = proxies.client("127.0.0.1", {"X-Forwarded-For": "127.0.0.1"}, tls=False)
    assert claims_loopback.proxied and not claims_loopback.loopback
    assert not proxies.client("127.0.0.1", {}, tls=False).loopback  # the proxy's own request
    assert not credentials_of({}, "/", claims_loopback).loopback
    assert Client("::1", "http", False).loopback and Client("127.8.9.1", "http", False).loopback
    assert not Client("not-an-address", "http", False).loopback


def test_a_header_sent_twice_is_refused_whichever_library_parsed_it():
    """websockets' Headers raise on get() of a header sent twice (a 500 and a traceback before);
    aiohttp's multidict returns the first. Both: Authorization twice is malformed, Cookie and
    X-Forwarded-For are joined as HTTP says."""
    from multidict import CIMultiDict
    from websockets.datastructures import Headers

    from camserver.access.credentials import single_headers
    pairs = [("Authorization", "Bearer a"), ("Authorization", "Basic YTpi"),
             ("Cookie", "x=1"), ("Cookie", "camserver_session=s"),
             ("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-For", "5.6.7.8"), ("Host", "h:1")]
    for headers in (Headers(pairs), CIMultiDict(pairs)):
        view = single_headers(headers)
        assert view == {"Authorization": "Bearer a\nBasic YTpi", "Host": "h:1",
                        "Cookie": "x=1; camserver_session=s",
                        "X-Forwarded-For": "1.2.3.4, 5.6.7.8"}, type(headers)
        credentials = credentials_of(view, "/", Client("127.0.0.1", "http", False))
        assert credentials.malformed == "Authorization header sent more than once"
