"""Secrets masked before anything reaches a reader: log lines, container log tails, event
payloads, URLs. One module, so every view hides the same things the same way.

Two kinds of rule, both replacing only the secret part with ``***``:

* by key name: ``password=...``, ``"token": "..."``, ``Authorization: Bearer ...`` in text,
  and dict/JSON keys at any depth (`mask_data`). A key is split into words (``_ - .``
  and camelCase); it names a secret when a word is one of SECRET_WORDS (or two adjacent
  words join into one: api+key, private+key, access+key, ...) and every word after it is
  a harmless suffix (id, key, value, ...). So ``db_password`` and ``X-Api-Key`` are
  secrets, ``author``, ``keyboard``, ``max_tokens`` and ``token_count`` are not.
* by shape, wherever they appear: ``Bearer <token>``, ``Basic <base64 of user:pass>``,
  AWS access key ids, Slack tokens and webhook URLs, JWTs, GitHub tokens, PEM private key
  blocks, a URL's password and its secret-looking query parameters (`mask_url`).

Cost: the rules run only on the lines holding a trigger word (found with str.find on
the lower-cased text; a text under 4 KB takes one regex search instead), each guarded by
a substring test. Measured once (2 shared cores, CPython 3.11): a 1 MB container log tail
of ~10,500 lines, one in ten with `Authorization: Bearer ...`, masks in 45-115 ms (idle
vs both cores busy); the same megabyte with no trigger word in 20-40 ms; a typical event
(message and a small data dict) in ~3 us. Container log tails are masked in the engine's
worker thread, never on the event loop.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"

# ------------------------------------------------------------------ key names
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "secret",
        "token",
        "apikey",
        "authorization",
        "auth",
        "privatekey",
        "accesskey",
        "secretkey",
        "routingkey",
        "integrationkey",
        "session",
        "sessionid",
        "cookie",
        "credential",
        "credentials",
    }
)
# Words that may follow the secret word in a key that still holds the secret itself
# (session_id, api_key_value, token_b64); any other (token_count, auth_method) does not.
_SUFFIXES = frozenset({"id", "key", "value", "hash", "b64", "base64", "data", "str", "string"})
# Query parameters that are credentials by themselves (besides the key names above).
_SECRET_PARAMS = frozenset({"key", "sig", "signature", "pass", "pw", "code", "jwt", "sid"})
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
# Values that are plainly not secrets: left as written.
_HARMLESS = frozenset({"", "null", "none", "true", "false", "undefined", "nil", MASK})


@functools.lru_cache(maxsize=4096)  # the same few keys, event after event
def secret_key(name: str) -> bool:
    """Whether a field, header, dict key or environment variable named so holds a secret."""
    words = [w.lower() for w in _WORD_SPLIT.split(name) if w]
    for i in range(len(words)):
        for width in (2, 1):
            joined = "".join(words[i : i + width]) if i + width <= len(words) else ""
            if joined in SECRET_WORDS and all(w in _SUFFIXES for w in words[i + width :]):
                return True
    return False


def secret_param(name: str) -> bool:
    """Whether a query parameter named so carries a credential: a secret key name, or one
    of the short ones URLs use (key, sig, code, ...), or anything ending in key/signature
    (X-Amz-Signature, client_key)."""
    low = unquote(name).strip()
    words = [w.lower() for w in _WORD_SPLIT.split(low) if w]
    return (
        secret_key(low)
        or low.lower() in _SECRET_PARAMS
        or bool(words and words[-1] in ("key", "signature", "sig", "secret"))
    )


# ------------------------------------------------------------------ URLs
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"'<>`]*[^\s\"'<>`.,;:!?)\]}\\]", re.I)
_SECRET_URL = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@", re.I
)
# Hosts whose URL path is the credential: kept up to the prefix, the rest hidden.
_PATH_TOKEN_HOSTS = {
    "hooks.slack.com": "/services/",
    "discord.com": "/api/webhooks/",
    "discordapp.com": "/api/webhooks/",
    "events.pagerduty.com": "/integration/",
}


def mask_url(url: str, *, path: bool = False) -> str:
    """A URL fit to show anyone: the password (or a lone user name, often a token) and
    token-like query values become ***; the scheme, host, port and path stay, so a reader
    still sees where it points. ``path=True`` hides the path as well: a webhook's path
    is its token (https://hooks.example/T0/B0/XXXX); a Slack or Discord webhook's path is
    hidden always."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port, like every reader will
    except ValueError:  # still hide what can be found
        head, q, query = _SECRET_URL.sub(
            lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url
        ).partition("?")
        return head + q + _mask_params(query)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if colon else f"{MASK}@{hostport}"
    shown_path = parts.path
    prefix = _PATH_TOKEN_HOSTS.get((parts.hostname or "").lower())
    if path and parts.path.strip("/"):
        shown_path = f"/{MASK}"
    elif prefix and parts.path.startswith(prefix) and len(parts.path) > len(prefix):
        shown_path = prefix + MASK
    query = (MASK if parts.query else "") if path else _mask_params(parts.query)
    return urlunsplit((parts.scheme, netloc, shown_path, query, _mask_params(parts.fragment)))


def _mask_params(query: str) -> str:
    """a=1&token=xyz → a=1&token=***, each pair kept as it was written otherwise."""
    if "=" not in query:
        return query
    out = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        out.append(f"{name}={MASK}" if eq and value and secret_param(name) else pair)
    return "&".join(out)


# ------------------------------------------------------------------ free text
# Every rule below needs one of these (lower-cased) in the line it changes: a line with
# none is left alone. str.find on the lower-cased text is ~20x faster than one
# case-insensitive regex alternation over it.
_TRIGGERS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "session",
    "cookie",
    "credential",
    "bearer",
    "basic",
    "akia",
    "asia",
    "xox",
    "eyj",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "ghr_",
    "github_pat_",
    "://",
)
_KV_WORDS = ("pass", "pwd", "secret", "token", "key", "auth", "session", "cookie", "credential")
_SHAPE_WORDS = ("akia", "asia", "xox", "eyj", "ghp_", "gho_", "ghs_", "ghu_", "ghr_", "github_pat_")
# One search over a short text says whether any rule could apply (cheaper than the finds).
_ANY = re.compile("|".join(re.escape(w) for w in _TRIGGERS))
_SHORT = 4096
_PEM = re.compile(
    r"(?P<begin>-----BEGIN (?P<kind>[A-Z0-9 ]*)PRIVATE KEY-----)(?P<body>[\s\S]*?)"
    r"(?P<end>-----END (?P=kind)PRIVATE KEY-----|\Z)"
)
_LINE = re.compile(r"[^\r\n]+")
# The end of a block whose start is outside the text (a log tail cut in the middle).
_PEM_TAIL = re.compile(
    r"\A(?:[ \t]*[A-Za-z0-9+/=]{16,}[ \t]*\r?\n)+[ \t]*(-----END [A-Z0-9 ]*PRIVATE KEY-----)"
)
_BEARER = re.compile(r"\b(Bearer\s+)(?!\*\*\*)([A-Za-z0-9\-._~+/]{8,}=*)", re.I)
_BASIC = re.compile(r"\b(Basic\s+)([A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])", re.I)
_SHAPES = re.compile(
    r"\b(?P<aws>(?:AKIA|ASIA))[A-Z0-9]{16}\b"
    r"|\b(?P<slack>xox[abposr]-)[A-Za-z0-9-]{10,}"
    r"|\b(?P<jwt>eyJ)[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"
    r"|\b(?P<gh>gh[opsur]_|github_pat_)[A-Za-z0-9_]{20,}"
)
# key <sep> value, the key containing a trigger word (the callback decides). The value
# keeps an authorization scheme (Bearer, Basic, token ...) in front of what it hides.
_KV = re.compile(
    r"(?<![\w.-])(?P<k>[\w.-]*?(?:pass|pwd|secret|token|key|auth|session|cookie|credential)"
    r"[\w.-]*)"
    r"(?P<sep>(?:\\?[\"'])?[ \t]*[=:][ \t]*)"
    r"(?P<scheme>(?:Bearer|Basic|Digest|Token|Bot|ApiKey|SSWS|Negotiate)[ \t]+)?"
    r"(?P<v>\\\"(?:[^\"\\\n]|\\[^\"\n])*\\\"|\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'|[^\s\"',;&)}\]{\[][^\s\"',;&)}\]]*)",
    re.I,
)


def _kv(m: re.Match[str]) -> str:
    value = m["v"]
    if not secret_key(m["k"]):
        return m[0]
    quote = '\\"' if value.startswith('\\"') else value[:1] if value[:1] in "\"'" else ""
    inner = value[len(quote) : len(value) - len(quote)] if quote else value
    if inner.lower() in _HARMLESS or inner.startswith(MASK):
        return m[0]
    return f"{m['k']}{m['sep']}{m['scheme'] or ''}{quote}{MASK}{quote}"


def _basic(m: re.Match[str]) -> str:
    """Basic <base64>: only when it decodes to user:password (so 'Basic plan' stays)."""
    try:
        decoded = base64.b64decode(m[2] + "=" * (-len(m[2]) % 4), validate=True)
    except (binascii.Error, ValueError):
        return m[0]
    return f"{m[1]}{MASK}" if b":" in decoded else m[0]


def _bearer(m: re.Match[str]) -> str:
    """Bearer <token>: a token has a digit or a symbol in it ('Bearer authentication'
    is prose)."""
    token = m[2]
    if any(c.isdigit() or c in "-._~+/=" for c in token) or len(token) >= 24:
        return f"{m[1]}{MASK}"
    return m[0]


def _pem(m: re.Match[str]) -> str:
    """A private key block: its body hidden line by line (a tail keeps its line count)."""
    body = _LINE.sub(MASK, m["body"]) if m["body"].strip() else m["body"]
    return m["begin"] + body + m["end"]


def _shape(m: re.Match[str]) -> str:
    prefix = m["aws"] or m["slack"] or m["jwt"] or m["gh"] or ""
    return prefix + MASK


def mask(text: str) -> str:
    """Hide credentials in free text (a log line, an error, a log tail, an event message):
    private key blocks, URLs as `mask_url` shows them, known token shapes, then
    key=value / key: value / "key": "value" pairs whose key names a secret.

    Only the lines holding a trigger word are looked at by the rules (a private key
    block, which spans lines, is found in the whole text first)."""
    if not text:
        return text
    low = text.lower()
    if "private key-----" in low:
        text = _PEM.sub(_pem, text)
        text = _PEM_TAIL.sub(lambda m: _LINE.sub(MASK, m[0][: m.start(1)]) + m[1], text)
        low = text.lower()
    if len(low) < _SHORT:  # a log line, an event's message: one pass over all of it
        if not _ANY.search(low):
            return text
        masked = _mask_line(text, low)
        return text if masked == text else masked  # the same object: callers test `is`
    spans: dict[int, int] = {}
    for word in _TRIGGERS:
        i = low.find(word)
        while i >= 0:
            start = low.rfind("\n", 0, i) + 1
            end = low.find("\n", i)
            end = len(low) if end < 0 else end
            spans[start] = end
            i = low.find(word, end)
    if not spans:
        return text
    out: list[str] = []
    at = 0
    for start in sorted(spans):
        if start < at:  # the same line, found by another word
            continue
        end = spans[start]
        out.append(text[at:start])
        out.append(_mask_line(text[start:end], low[start:end]))
        at = end
    out.append(text[at:])
    masked = "".join(out)
    return text if masked == text else masked  # the same object: callers test `is`


def _mask_line(line: str, low: str) -> str:
    if "://" in low:
        line = _URL.sub(lambda m: mask_url(m[0]), line)
    if "bearer" in low:
        line = _BEARER.sub(_bearer, line)
    if "basic" in low:
        line = _BASIC.sub(_basic, line)
    if any(w in low for w in _SHAPE_WORDS):
        line = _SHAPES.sub(_shape, line)
    if ("=" in line or ":" in line) and any(w in low for w in _KV_WORDS):
        line = _KV.sub(_kv, line)
    return line


def mask_lines(lines: list[str]) -> list[str]:
    """A log tail, masked as one text (a private key block spans lines), same line count."""
    if not lines:
        return lines
    joined = "\n".join(lines)
    masked = mask(joined)
    return lines if masked is joined else masked.split("\n")


def mask_data(value: Any, *, under_secret: bool = False) -> Any:
    """A JSON-like value with every secret hidden: a value under a secret key (at any
    depth: the whole subtree of ``"credentials": {...}``) becomes ***, other strings are
    masked as text. Returns the same object when nothing changed (cheap to compare)."""
    if isinstance(value, str):
        if under_secret:
            return value if value.lower() in _HARMLESS else MASK
        return mask(value)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        changed = False
        for k, v in value.items():
            secret = under_secret or (isinstance(k, str) and secret_key(k))
            new = mask_data(v, under_secret=secret)
            changed = changed or new is not v
            out[k] = new
        return out if changed else value
    if isinstance(value, list | tuple):
        items = [mask_data(v, under_secret=under_secret) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items) if isinstance(value, tuple) else items
    if under_secret and isinstance(value, int | float) and not isinstance(value, bool):
        return MASK
    return value
