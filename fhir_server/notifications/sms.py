"""SMS behind a small provider interface; the one provider is Twilio's REST API shape
(POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, form From/To/Body, HTTP Basic with the
account SID and auth token: https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource).
Off unless FHIR_TWILIO_ACCOUNT_SID, FHIR_TWILIO_AUTH_TOKEN and FHIR_SMS_FROM are set; the token comes
from the environment only and is never logged."""

from __future__ import annotations

from typing import Protocol

import httpx

__all__ = ["SmsProvider", "TwilioSms", "configure", "sms_provider"]


class SmsProvider(Protocol):
    async def send(self, to: str, text: str) -> str | None:
        """None when the provider accepted the message, else why not."""
        ...


class TwilioSms:
    def __init__(self, base: str, account: str, token: str, sender: str, timeout: float = 10.0) -> None:
        self.url = f"{base.rstrip('/')}/2010-04-01/Accounts/{account}/Messages.json"
        self.auth, self.sender, self.timeout = (account, token), sender, timeout

    async def send(self, to: str, text: str) -> str | None:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as http:
                answer = await http.post(self.url, data={"From": self.sender, "To": to, "Body": text}, auth=self.auth)
        except httpx.HTTPError as exc:
            return f"SMS delivery failed: {type(exc).__name__}"
        return None if answer.status_code in (200, 201) else f"SMS provider answered HTTP {answer.status_code}"


_PROVIDER: list[SmsProvider | None] = [None]


def configure(base: str, account: str | None, token: str | None, sender: str | None) -> None:
    _PROVIDER[0] = TwilioSms(base, account, token, sender) if account and token and sender else None


def sms_provider() -> SmsProvider | None:
    return _PROVIDER[0]
