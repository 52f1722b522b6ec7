"""Webhook targets: private and loopback addresses and plain HTTP are refused with a clear 400 unless the operator
allows private targets (CORRAL_WEBHOOK_ALLOW_PRIVATE); Standard Webhooks signatures verify with the library the SDK
uses."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from corral.errors import InvalidRequest
from corral.webhooks import signing, targets

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10:8443/hook",
        "https://169.254.169.254/latest",
        "https://[::1]/hook",
        "https://localhost/hook",
    ],
)
async def test_private_targets_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequest, match="private or loopback"):
        await targets.check(url, allow_private=False)
    await targets.check(url, allow_private=True)


@pytest.mark.parametrize("url", ["http://203.0.113.9/hook", "ftp://example.com/x", "https://user:pw@203.0.113.9/"])
async def test_plain_http_and_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequest, match="url:"):
        await targets.check(url, allow_private=False)


async def test_a_public_https_address_is_accepted() -> None:
    await targets.check("https://93.184.216.34/hook", allow_private=False)


def test_signatures_verify_with_standard_webhooks() -> None:
    secret = signing.new_secret()
    body = '{"type":"event","id":"event_1"}'
    import time

    stamp = int(time.time())
    verified = Webhook(secret).verify(body, signing.headers(secret, "event_1", stamp, body))
    assert verified == {"type": "event", "id": "event_1"}
