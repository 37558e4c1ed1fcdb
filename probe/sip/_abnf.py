"""RFC 3261 §25.1 grammar pieces, as regular expressions.

In the spirit of h11's ``_abnf.py``: each piece is built from the ABNF it cites, so a
reviewer can hold the regex next to the RFC.  Character classes are kept as bare
class *contents* (no brackets) so they compose.  Header values reach these patterns
already unfolded (§7.3.1), so linear white space is just SP / HTAB here.

Only grammar lives here; the checks regexes cannot express (an IPv4 octet above 255,
a port above 65535, IPv6 validity) are done in code next to their callers.
"""

from __future__ import annotations

import re
import string

# --- §25.1 basic rules -------------------------------------------------------------
# alphanum = ALPHA / DIGIT
ALPHANUM = "A-Za-z0-9"
# mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
MARK = r"\-_.!~*'()"
# unreserved = alphanum / mark
UNRESERVED = ALPHANUM + MARK
# escaped = "%" HEXDIG HEXDIG
ESCAPED = r"%[0-9A-Fa-f]{2}"
# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN_CHARS = ALPHANUM + r"\-.!%*_+`'~"
TOKEN = f"[{TOKEN_CHARS}]+"
# word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" /
#           "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}")
WORD = f'[{TOKEN_CHARS}()<>:\\\\"/\\[\\]?{{}}]+'
# LWS / SWS after unfolding: the CRLF part is gone, only SP / HTAB remain.
SWS = "[ \t]*"
LWS = "[ \t]+"

# quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE
# qdtext        = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
# quoted-pair   = "\" (%x00-09 / %x0B-0C / %x0E-7F)
# UTF8-NONASCII is any non-ASCII scalar value; surrogates are excluded so that
# whatever we accept can be encoded back to UTF-8.  qdtext is written as its complement
# (every other control, DQUOTE, backslash, DEL and the surrogates): the same set, which the
# regex compiler builds in a fraction of the time the ranges up to U+10FFFF take.
QDTEXT = '[^\\x00-\\x08\\x0a-\\x1f"\\\\\\x7f\\ud800-\\udfff]'
QUOTED_STRING = f'"(?:{QDTEXT}|\\\\[\\x00-\\x09\\x0b\\x0c\\x0e-\\x7f])*"'

# --- §25.1 SIP-URI pieces ----------------------------------------------------------
# user = 1*(unreserved / escaped / user-unreserved)
# user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
USER_RE = re.compile(f"(?:[{UNRESERVED}&=+$,;?/]|{ESCAPED})+")
# password = *(unreserved / escaped / "&" / "=" / "+" / "$" / ",")
PASSWORD_RE = re.compile(f"(?:[{UNRESERVED}&=+$,]|{ESCAPED})*")
# Characters a user / password may carry unescaped, for serialising (§19.1.2).
PASSWORD_SAFE = frozenset(string.ascii_letters + string.digits + "-_.!~*'()&=+$,")
USER_SAFE = PASSWORD_SAFE | frozenset(";?/")

# hostname    = *(domainlabel ".") toplabel ["."]
# domainlabel = alphanum / alphanum *(alphanum / "-") alphanum
# toplabel    = ALPHA / ALPHA *(alphanum / "-") alphanum
# The toplabel must start with a letter: that is what tells "10.0.0.300" (a bad IPv4
# address) apart from a hostname.
DOMAINLABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
TOPLABEL = "[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
HOSTNAME_RE = re.compile(f"(?:{DOMAINLABEL}\\.)*{TOPLABEL}\\.?")
# IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT  (octets <= 255 in code)
IPV4_RE = re.compile("([0-9]{1,3})\\.([0-9]{1,3})\\.([0-9]{1,3})\\.([0-9]{1,3})")
# IPv6reference = "[" IPv6address "]"; the address itself is checked with ipaddress.
# This only bounds the characters so that zone ids ("%eth0") are refused up front.
IPV6_CHARS_RE = re.compile("[0-9A-Fa-f:.]+")
# port = 1*DIGIT
DIGITS_RE = re.compile("[0-9]+")

# uri-parameter = other-param = pname ["=" pvalue]   (transport-param, lr-param etc.
# are special cases of the same shape)
# pname = pvalue = 1*paramchar
# paramchar = param-unreserved / unreserved / escaped
# param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"
PARAMCHARS_RE = re.compile(f"(?:[{UNRESERVED}\\[\\]/:&+$]|{ESCAPED})+")
# headers = "?" header *("&" header);  header = hname "=" hvalue
# hname = 1*(hnv-unreserved / unreserved / escaped); hvalue = *(same)
# hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$"
HNAME_RE = re.compile(f"(?:[{UNRESERVED}\\[\\]/?:+$]|{ESCAPED})+")
HVALUE_RE = re.compile(f"(?:[{UNRESERVED}\\[\\]/?:+$]|{ESCAPED})*")

# --- §25.1 header pieces -----------------------------------------------------------
TOKEN_RE = re.compile(TOKEN)
WORD_RE = re.compile(WORD)
# callid = word ["@" word]
CALLID_RE = re.compile(f"{WORD}(?:@{WORD})?")

# generic-param = token [EQUAL gen-value];  gen-value = token / host / quoted-string
# SEMI = SWS ";" SWS;  EQUAL = SWS "=" SWS.  "host" adds only IPv6reference to what
# token already covers (hostnames and IPv4 addresses are tokens).
GEN_VALUE = f"{TOKEN}|\\[[0-9A-Fa-f:.]+\\]|{QUOTED_STRING}"
GENERIC_PARAM_RE = re.compile(f"{SWS};{SWS}({TOKEN})(?:{SWS}={SWS}({GEN_VALUE}))?{SWS}")
# via-received = "received" EQUAL (IPv4address / IPv6address): the one place a bare
# (unbracketed) IPv6 address appears as a parameter value, so Via params also accept a
# value containing a colon.  It is tried first so "2001:db8::1" is not cut at "2001".
VIA_PARAM_RE = re.compile(
    f"{SWS};{SWS}({TOKEN})(?:{SWS}={SWS}([0-9A-Fa-f.]*:[0-9A-Fa-f:.]*|{GEN_VALUE}))?{SWS}"
)

# display-name = *(token LWS) / quoted-string
DISPLAY_TOKENS_RE = re.compile(f"{TOKEN}(?:{LWS}{TOKEN})*")
QUOTED_STRING_RE = re.compile(QUOTED_STRING)

# sent-protocol = protocol-name SLASH protocol-version SLASH transport   (SLASH = SWS "/" SWS)
# sent-by       = host [COLON port]                                       (COLON = SWS ":" SWS)
# via-parm      = sent-protocol LWS sent-by *(SEMI via-params)
VIA_HEAD_RE = re.compile(
    f"({TOKEN}){SWS}/{SWS}({TOKEN}){SWS}/{SWS}({TOKEN}){LWS}"
    f"(\\[[^\\]]*\\]|[A-Za-z0-9.\\-]+)(?:{SWS}:{SWS}([0-9]+))?"
)

# CSeq = "CSeq" HCOLON 1*DIGIT LWS Method
CSEQ_RE = re.compile(f"([0-9]+){LWS}({TOKEN})")

# Request-Line = Method SP Request-URI SP SIP-Version CRLF   (§25.1, exactly one SP)
# Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase CRLF
# The version is matched separately so that "SIP/2.1" gets its own error message.
REQUEST_LINE_RE = re.compile(f"({TOKEN}) ([^ ]+) ([^ ]+)")
STATUS_LINE_RE = re.compile("([^ ]+) ([^ ]*) (.*)", re.DOTALL)

# --- §25.1 / RFC 7616 §3.3: authentication challenges and credentials ----------------
# challenge  = ("Digest" LWS digest-cln *(COMMA digest-cln)) / other-challenge
# other-challenge = auth-scheme LWS auth-param *(COMMA auth-param)
# auth-param = auth-param-name EQUAL ( token / quoted-string )
# COMMA = SWS "," SWS;  EQUAL = SWS "=" SWS.  The named digest-cln parameters (realm,
# nonce, qop...) are auth-params with a narrower value; which form each value takes
# is checked in code, so that a peer quoting "algorithm" is told so precisely.
AUTH_SCHEME_RE = re.compile(f"{SWS}({TOKEN})(?:{LWS}|$)")
AUTH_PARAM_RE = re.compile(f"{SWS}({TOKEN}){SWS}={SWS}({TOKEN}|{QUOTED_STRING}){SWS}")
