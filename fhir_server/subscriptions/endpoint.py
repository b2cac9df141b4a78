"""Where a rest-hook may point (SSRF): https, or http to a loopback address (development); never a
private, link-local, multicast or reserved address unless FHIR_SUBSCRIPTION_ALLOW_PRIVATE.

Checked when the Subscription is written and again before every delivery (the name may resolve
elsewhere by then: DNS rebinding). An https host that does not resolve when the Subscription is
written is accepted (DNS may be down, or the endpoint not yet published, as in the official R4
examples); its delivery then fails on that check and the Subscription shows it in ``error``.
Loopback stays allowed so a developer's local receiver works; an operator who does not want that
puts the server behind an egress proxy.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import Unprocessable
from ..notifications.email import mailer
from ..notifications.sms import sms_provider

__all__ = ["check_endpoint", "check_mailbox", "check_phone", "configure"]

_ALLOW_PRIVATE: list[bool] = [False]


def configure(allow_private: bool) -> None:
    """Set once at start-up from Settings.subscription_allow_private."""
    _ALLOW_PRIVATE[0] = allow_private


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if address.is_loopback:
        return False
    return (address.is_private or address.is_link_local or address.is_multicast or address.is_reserved
            or address.is_unspecified) and not _ALLOW_PRIVATE[0]


async def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Unprocessable(f"Subscription endpoint host {host!r} does not resolve") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def check_endpoint(url: str | None, writing: bool = False) -> None:
    """Refuse (422) an endpoint the server must not call (``writing``: the Subscription is being stored)."""
    if not url:
        raise Unprocessable("Subscription.channel.endpoint is required for a rest-hook")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Unprocessable(f"Subscription endpoint {url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise Unprocessable("Subscription endpoint must not carry credentials in the URL (use channel.header)")
    try:
        addresses = await _addresses(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except Unprocessable:
        if writing and parts.scheme == "https" and not _is_address(parts.hostname):
            return
        raise
    if parts.scheme == "http" and not all(a.is_loopback for a in addresses):
        raise Unprocessable(f"Subscription endpoint {url!r} must use https (http only to a loopback address)")
    refused = [str(a) for a in addresses if _refused(a)]
    if refused:
        raise Unprocessable(f"Subscription endpoint resolves to a private or link-local address ({refused[0]});"
                            " an administrator may allow it with FHIR_SUBSCRIPTION_ALLOW_PRIVATE")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def check_mailbox(url: str | None) -> None:
    """An email channel needs SMTP configured and a ``mailto:`` endpoint with one address."""
    if mailer() is None:
        raise Unprocessable("The email channel is off on this server (FHIR_SMTP_URL is not set)")
    address = (url or "").removeprefix("mailto:")
    if not (url or "").startswith("mailto:") or address.count("@") != 1 or any(c in address for c in ",;\r\n <>"):
        raise Unprocessable(f"Subscription endpoint {url!r} is not a mailto: URL with one address")


def check_phone(url: str | None) -> None:
    """An sms channel needs an SMS provider configured and a ``tel:`` endpoint in E.164 (+ and digits)."""
    if sms_provider() is None:
        raise Unprocessable("The sms channel is off on this server (FHIR_TWILIO_ACCOUNT_SID, FHIR_TWILIO_AUTH_TOKEN"
                            " and FHIR_SMS_FROM are not all set)")
    number = (url or "").removeprefix("tel:")
    if not (url or "").startswith("tel:+") or not number[1:].isdigit() or not 8 <= len(number) <= 16:
        raise Unprocessable(f"Subscription endpoint {url!r} is not a tel: URL with an E.164 number")
