"""The leak finder itself: a secret is found however an output might dress it.

Without peers and without the network, so that a finder that has gone blind fails here
even where the canary campaign (test_secrets_canary.py) is skipped.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from probe.tls.lab import LabFiles
from tests.security.canaries import (
    ANSWER_INLINE,
    DIGEST_REALM,
    DIGEST_USER,
    PASSWORD_ENV,
    find_leaks,
    password_needles,
    private_key_needles,
    srtp_key_needles,
)

NEEDLES = {
    "key": srtp_key_needles(ANSWER_INLINE),
    "password": password_needles(PASSWORD_ENV),
}
HA1 = hashlib.md5(f"{DIGEST_USER}:{DIGEST_REALM}:{PASSWORD_ENV}".encode()).hexdigest()
SIP = f"INVITE sip:x SIP/2.0\r\n\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{ANSWER_INLINE}\r\n"


@pytest.mark.parametrize(
    ("text", "canary"),
    [
        (f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{ANSWER_INLINE}", "key"),
        # rich wraps a long line and draws a box around it
        (f"│ inline:{ANSWER_INLINE[:20]}\n│   {ANSWER_INLINE[20:]} │", "key"),
        # evidence files keep SIP messages as base64 inside JSON
        (json.dumps({"request": base64.b64encode(SIP.encode()).decode()}), "key"),
        (base64.b64decode(ANSWER_INLINE).hex(), "key"),
        (base64.b64decode(ANSWER_INLINE)[:16].hex().upper(), "key"),
        (json.dumps({"summary": f'pw "{PASSWORD_ENV}"'}), "password"),
        (f'<failure message="{PASSWORD_ENV.replace("-", "&#45;")}"/>', "password"),
        (base64.b64encode(PASSWORD_ENV.encode()).decode(), "password"),
        (f"digest ha1={HA1}", "password"),
    ],
    ids=[
        "inline key",
        "wrapped in a box",
        "base64 inside JSON",
        "hex of key and salt",
        "hex of the master key",
        "JSON string",
        "XML character references",
        "base64 of the password",
        "H(A1)",
    ],
)
def test_a_dressed_up_secret_is_found(text: str, canary: str) -> None:
    leaks = find_leaks(NEEDLES, {"output": text})
    assert leaks, text
    assert all(leak.startswith(canary) for leak in leaks), leaks


def test_a_redacted_output_is_clean() -> None:
    zeros = "A" * len(ANSWER_INLINE)
    redacted = SIP.replace(ANSWER_INLINE, zeros)
    text = json.dumps(
        {
            "request": base64.b64encode(redacted.encode()).decode(),
            "authorization": "Digest <redacted>",
            "summary": "200 OK after digest authentication",
        }
    )
    assert find_leaks(NEEDLES, {"output": text, "console": "inline:<redacted>"}) == []


def test_every_form_of_the_private_key_is_a_needle(lab: LabFiles) -> None:
    needles = {"private key": private_key_needles(lab.client_key, lab.client)}
    pem = lab.client_key.read_text()
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    assert find_leaks(needles, {"pem": pem})
    assert find_leaks(needles, {"one line": body})
    der = base64.b64decode(body)
    assert find_leaks(needles, {"hex": der.hex()})
    # The certificate (public) is not the key: showing it is fine.
    assert find_leaks(needles, {"certificate": lab.client.read_text()}) == []
