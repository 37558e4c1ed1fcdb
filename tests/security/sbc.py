"""The far end of the canary runs: Kamailio (mutual TLS) relaying to a SIPp UAS that
challenges with digest, verifies the canary password, and answers with the canary key.

SIPp's message trace (`-trace_msg`) is the honest witness of what we sent: the SDES keys
our offer generated and the digest response we computed are read from it, so that the
leak check can look for them too, and so that the test knows they were really used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio
from tests.peers.sipp import Sipp, start_sipp
from tests.security.canaries import ANSWER_INLINE, DIGEST_REALM, DIGEST_USER

CALLEE = f"sip:+15550100@{LAB_NAME}"

# Challenges the first INVITE (401), verifies the second's credentials, answers SDES-SRTP
# echoing the first offered tag and suite with the canary key, then ACK and BYE.
SCENARIO = """<?xml version="1.0" encoding="UTF-8"?>
<scenario name="uas canary">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[
      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: Digest realm="{realm}", nonce="c4n4ry0n0nce5e7f", algorithm=MD5, qop="auth"
      Content-Length: 0
    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <recv request="INVITE" crlf="true">
    <action>
      <verifyauth assign_to="authvalid" username="{user}" password="{password}"/>
      <ereg regexp="a=crypto:([0-9]+) ([A-Z0-9_]+) inline:" search_in="body" check_it="true"
            assign_to="crypto,tag,suite"/>
    </action>
  </recv>
  <nop hide="true" test="authvalid" next="goodauth"/>
  <recv request="NEVER" timeout="200"/>
  <label id="goodauth"/>
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 1 1 IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio 20000 RTP/SAVP 0
      a=rtpmap:0 PCMU/8000
      a=crypto:[$tag] [$suite] inline:{key}
    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
  <Reference variables="authvalid,crypto,tag,suite"/>
</scenario>
"""

_OFFERED_KEY = re.compile(r"a=crypto:\d+ [A-Z0-9_]+ inline:([A-Za-z0-9+/=]+)")
_RESPONSE = re.compile(r'^Authorization:.*?\bresponse="([0-9a-f]+)"', re.MULTILINE | re.IGNORECASE)


@dataclass
class Sbc:
    """Kamailio with a TLS and a mutual-TLS listener, relaying INVITE to one SIPp call."""

    kamailio: Kamailio
    sipp: Sipp

    def uri(self, profile: str = "mtls") -> str:
        return f"sip:{LAB_NAME}:{self.kamailio.ports[profile]};transport=tls"

    def pin(self, profile: str = "mtls") -> str:
        return f"{LAB_NAME}:{self.kamailio.ports[profile]}:127.0.0.1"

    def stop(self) -> None:
        self.sipp.stop()
        self.kamailio.stop()

    def seen_by_far_end(self) -> str:
        """Every message SIPp received and sent (its -trace_msg log)."""
        return "\n".join(
            path.read_text(errors="replace")
            for path in sorted(self.sipp.workdir.glob("*_messages.log"))
        )

    def offered_keys(self) -> list[str]:
        return _OFFERED_KEY.findall(self.seen_by_far_end().replace(ANSWER_INLINE, ""))

    def digest_responses(self) -> list[str]:
        return _RESPONSE.findall(self.seen_by_far_end())


def start_sbc(workdir: Path, lab: LabFiles, password: str) -> Sbc:
    scenario = workdir / "uas_canary.xml"
    workdir.mkdir(parents=True, exist_ok=True)
    scenario.write_text(
        SCENARIO.format(realm=DIGEST_REALM, user=DIGEST_USER, password=password, key=ANSWER_INLINE)
    )
    # An absolute path: start_sipp joins it to its own folder, which keeps it as it is.
    sipp = start_sipp(workdir / "sipp", str(scenario), timeout_s=60)
    try:
        kamailio = start_kamailio(
            workdir / "kamailio",
            [
                TlsProfile("mtls", lab.server, lab.server_key, ca=lab.ca, require_client_cert=True),
                TlsProfile("tls", lab.server, lab.server_key),
            ],
            relay_to=("127.0.0.1", sipp.port),
        )
    except BaseException:
        sipp.stop()
        raise
    return Sbc(kamailio, sipp)
