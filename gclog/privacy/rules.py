"""The rule sets: secrets (every level), personal data (``redacted``), binary blobs (every level).

How the patterns are written, so that each stays fast on any input (see scrubber.py):

- a pattern starts with a literal (``hf_``, ``://``, ``-----BEGIN``) and only *then* checks what
  comes before it, with a fixed-width lookbehind: the regex engine jumps from one occurrence of the
  literal to the next instead of trying every position;
- rules found by a name (``password=…``, ``Authorization: …``) are ``fold`` rules written in lower
  case, run on the lowercased text, and check the name's left edge in Python (:func:`_named`);
- every repetition is bounded, so one attempt costs at most a bounded scan.

The order is the precedence: where two rules cover the same text, the earlier one names it. The
longest text a secret rule can match is ``MAX_SECRET_CHARS`` (a test reads it off the patterns);
excerpt.py relies on it to cut long texts without cutting through a secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from gclog.privacy.scrubber import Rule, Scrubber

MAX_SECRET_CHARS = 24 * 1024

Check = Callable[[re.Match[str], str], bool]

# -- validators: cheap vetoes that keep code and placeholders out ------------------------------------

_NULLS = frozenset(
    ("none", "null", "nil", "true", "false", "undefined", "empty", "changeme", "required")
)
_MASKS = frozenset("*x•.#-_?")
_TYPES = frozenset(("str", "bytes", "int", "any", "optional", "secretstr", "string", "dict"))
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
# Words glued in front of a name that still make it a credential: accessToken, dbpassword, PGPASSWORD.
_GLUE = re.compile(
    r"(?:access|auth|api|refresh|bearer|session|bot|client|app|oauth|personal|private|secret|db"
    r"|admin|root|user|account|master|mail|smtp|ftp|my|pg|github|gitlab|hf|slack|wandb|npm)$"
)


def _mixed(secret: str) -> bool:
    """Looks machine-made: letters with digits, or upper and lower case."""
    has_digit = any(c.isdigit() for c in secret)
    has_upper = any(c.isupper() for c in secret)
    has_lower = any(c.islower() for c in secret)
    return (has_digit and (has_upper or has_lower)) or (has_upper and has_lower)


def _random(match: re.Match[str], secret: str) -> bool:
    return _mixed(secret)


def _named(match: re.Match[str]) -> bool:
    """The name starts a word (``HF_TOKEN``, ``x-api-key``) or follows a glue word (``accessToken``)."""
    start = match.start("name")
    before = match.string[max(0, start - 12) : start].lower()
    if not before or not before[-1].isalnum() or before[-2:-1] == "\\":
        return True  # a word starts here (after \n, an escaped line break, too)
    glued = _GLUE.search(before)
    return glued is not None and (glued.start() == 0 or not before[glued.start() - 1].isalnum())


def _is_literal(match: re.Match[str], secret: str) -> bool:
    """A value written out, not code that computes one nor a placeholder for one."""
    lowered = secret.lower()
    if lowered in _NULLS or set(secret) <= _MASKS or secret[0] in "$%{<":
        return False  # None, ********, $VAR, %(name)s, {name}, <your-password>
    if secret.startswith("--"):
        return False  # --password --verbose: the next flag, not a value
    if lowered == match.group("name").lower():
        return False  # password=password: a variable passed on
    if match.group("uvalue") is not None:
        following = match.string[match.end() : match.end() + 1]
        if following in ("(", "[") or lowered in _TYPES or _DOTTED_NAME.fullmatch(secret):
            return False  # a call, a subscript, an attribute, a type annotation: code
    return True


def _password_value(match: re.Match[str], secret: str) -> bool:
    return _named(match) and _is_literal(match, secret)


def _token_value(match: re.Match[str], secret: str) -> bool:
    """Tokens and keys are long and random; ``pad_token = "[PAD]"`` is neither."""
    if len(secret) < 8 or any(c.isspace() for c in secret):
        return False
    return _named(match) and _is_literal(match, secret) and _mixed(secret)


def _rule(
    kind: str,
    pattern: str,
    keywords: Iterable[str],
    *,
    fold: bool = False,
    groups: tuple[str, ...] = (),
    check: Check | None = None,
    flags: int = 0,
) -> Rule:
    keywords = tuple(keywords)
    if fold:
        assert all(k == k.lower() for k in keywords), "fold rules take lower-case keywords"
    return Rule(kind, re.compile(pattern, flags), keywords, fold, groups, check)


def _starts(prefix: str, before: str) -> str:
    """``prefix`` not preceded by a character of class ``before`` (the literal comes first).

    A character escaped with a backslash does not count: in ``'key:\\nhf_…'`` (a repr, JSON) the
    ``n`` before the token is a line break.
    """
    return rf"{prefix}(?<!(?<!\\)[{before}]{prefix})"


# -- pieces shared by several rules -------------------------------------------------------------------

# A quoted value (also JSON-escaped: \"…\"), or an unquoted one that ends at a delimiter.
_VALUE = (
    r"(?:[rbfu]{0,2}\\{0,4}(?P<quote>[\"'])(?!<redacted:)(?P<qvalue>[^\"'\\\r\n]{1,1024})"
    r"\\{0,4}(?P=quote)"
    r"|(?!<redacted:)(?P<uvalue>[^\s\"'`,;<>(){}\[\]\\]{1,4096}))"
)
# Between a name and its value: `=`, `:`, `:=`, `=>`; after a quoted name also `,` (setdefault).
_SEPARATOR = (
    r"(?:\\{0,4}[\"']\]?[ \t]{0,8}(?:=>|:=|=(?!=)|:|,)|\]?[ \t]{0,8}(?:=>|:=|=(?!=)|:))[ \t]{0,8}"
)
_PASSWORD_NAMES = r"password|passwd|passphrase|pwd"
_TOKEN_NAMES = (
    r"secret(?:[_-]?access)?(?:[_-]?key)?|token(?:[_-]?secret)?|api[_-]?key|apikey"
    r"|access[_-]?key|private[_-]?key|auth[_-]?key|kaggle[_-]?key|credentials?"
)
_TOKEN_KEYWORDS = (
    "secret", "token", "api_key", "api-key", "apikey", "access_key", "access-key", "accesskey",
    "private_key", "private-key", "privatekey", "auth_key", "auth-key", "authkey", "kaggle_key",
    "kaggle-key", "credential",
)  # fmt: skip
_B64 = r"A-Za-z0-9+/"
_PEM_BEGIN = r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
_NEWLINE = r"(?:\\{1,4}[rn]|\s)"  # a real line break, or one written \n (JSON, escaped again)
_Q = r'\\{0,4}"'  # a JSON quote, also escaped (JSON in a string, in a string)
_WS = r"(?:\s|\\{1,4}[nrt]){0,8}"  # blanks, real or escaped
_PEM_SEP = r"(?:\\\\r\\\\n|\\\\n|\\r\\n|\\n|\r?\n)"

# -- secrets -------------------------------------------------------------------------------------------

SECRET_RULES: tuple[Rule, ...] = (
    _rule(
        "private_key",
        # A PEM private key up to its END line (also JSON-escaped); without one, the BEGIN line and
        # the base64 lines that follow it (a key cut short by a print or a truncated output).
        rf"{_PEM_BEGIN}(?:{_NEWLINE}{{1,4}}Proc-Type:[^\r\n\\]{{1,64}}{_NEWLINE}{{1,4}}"
        r"DEK-Info:[^\r\n\\]{1,128})?"
        rf"(?:[A-Za-z0-9+/=\s\\:,]{{0,16384}}?{_PEM_END}"
        rf"|(?:{_PEM_SEP}{{1,4}}[{_B64}=]{{1,100}}(?=\\|[\r\n\"']|$)){{0,160}})",
        ["PRIVATE KEY"],
    ),
    _rule(
        "huggingface_token",
        _starts("hf_", "A-Za-z0-9_") + r"[A-Za-z0-9]{30,64}(?![A-Za-z0-9])",
        ["hf_"],
        check=_random,
    ),
    _rule(
        "huggingface_token",
        _starts("api_org_", "A-Za-z0-9_") + r"[A-Za-z]{30,40}(?![A-Za-z0-9])",
        ["api_org_"],
        check=_random,
    ),
    _rule(
        "github_token",
        _starts("gh[pousr]_", "A-Za-z0-9_") + r"[A-Za-z0-9]{36,251}(?![A-Za-z0-9])",
        ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
    ),
    _rule(
        "github_fine_grained_token",
        _starts("github_pat_", "A-Za-z0-9_") + r"[A-Za-z0-9_]{50,251}",
        ["github_pat_"],
    ),
    _rule(
        "gitlab_token",
        _starts("gl", "A-Za-z0-9_-")
        + r"(?:pat|dt|rt|ptt|ft|imt|cbt|soat|agent|oas|wt|ffct)-[A-Za-z0-9_.-]{20,255}",
        [
            "glpat-",
            "gldt-",
            "glrt-",
            "glptt-",
            "glft-",
            "glimt-",
            "glcbt-",
            "glsoat-",
            "glagent-",
            "gloas-",
            "glwt-",
            "glffct-",
        ],
    ),
    _rule(
        "anthropic_key",
        _starts("sk-ant-", "A-Za-z0-9_-") + r"(?:api|admin|oat|sid)[0-9]{2}-[A-Za-z0-9_-]{32,250}",
        ["sk-ant-"],
    ),
    _rule(
        "openai_key",
        _starts("sk-", "A-Za-z0-9_-") + r"(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,250}",
        ["sk-"],
        check=_random,
    ),
    _rule(
        "slack_token",
        _starts("(?:xox[abposer]|xapp)-", "A-Za-z0-9_-") + r"[A-Za-z0-9-]{10,250}",
        ["xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxe-", "xoxr-", "xapp-"],
        check=_random,
    ),
    _rule(
        "slack_webhook",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<path>[A-Za-z0-9_/-]{20,250})",
        ["hooks.slack.com"],
        groups=("path",),
    ),
    _rule(
        "google_api_key",
        _starts("AIza", "A-Za-z0-9_-") + r"[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])",
        ["AIza"],
    ),
    _rule(
        "google_oauth_token",
        _starts(r"ya29\.", "A-Za-z0-9_-") + r"[0-9A-Za-z_-]{20,2048}",
        ["ya29."],
    ),
    _rule(
        "google_oauth_token",
        _starts("1//0", "A-Za-z0-9_/-") + r"[0-9A-Za-z_-]{30,512}",
        ["1//0"],
    ),
    _rule(
        "google_client_secret",
        _starts("GOCSPX-", "A-Za-z0-9_-") + r"[0-9A-Za-z_-]{20,40}",
        ["GOCSPX-"],
    ),
    _rule(
        "stripe_key",
        _starts("[sr]k_(?:live|test)_", "A-Za-z0-9_") + r"[0-9A-Za-z]{10,247}",
        ["_live_", "_test_"],
        check=_random,
    ),
    _rule(
        "stripe_key",
        _starts("whsec_", "A-Za-z0-9_") + r"[A-Za-z0-9+/=]{24,128}",
        ["whsec_"],
    ),
    _rule(
        "pypi_token",
        _starts("pypi-Ag", "A-Za-z0-9_-") + r"[A-Za-z0-9_-]{50,2048}",
        ["pypi-Ag"],
    ),
    _rule(
        "jwt",
        _starts("eyJ", "A-Za-z0-9_-")
        + r"[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{0,4096}",
        ["eyJ"],
    ),
    _rule(
        "aws_access_key_id",
        _starts("A(?:KIA|SIA|BIA|CCA)", "A-Z0-9") + r"[A-Z0-9]{16}(?![A-Z0-9])",
        ["AKIA", "ASIA", "ABIA", "ACCA"],
    ),
    _rule(
        "aws_secret_access_key",
        r"(?:aws_?secret_?(?:access_?)?key|secret_?access_?key)\\{0,4}[\"']?[ \t]{0,8}[:=,]"
        rf"[ \t]{{0,8}}\\{{0,4}}[\"']?(?P<secret>[{_B64.lower()}]{{40}})(?![{_B64.lower()}=])",
        ["secret_access_key", "secretaccesskey", "aws_secret", "awssecret"],
        fold=True,
        groups=("secret",),
    ),
    _rule(
        "aws_secret_access_key",
        # The secret key written near its access key id, without a name: boto3.client("s3", id, key).
        _starts("A[KS]IA", "A-Z0-9")
        + rf"[A-Z0-9]{{16}}.{{1,160}}?(?<![{_B64}])(?P<secret>[{_B64}]{{40}})(?![{_B64}=])",
        ["AKIA", "ASIA"],
        groups=("secret",),
        check=lambda m, s: _mixed(s) and any(c.isdigit() for c in s),
        flags=re.S,
    ),
    _rule(
        "kaggle_key",
        rf"{_Q}username{_Q}{_WS}:{_WS}{_Q}[^\"\\\n]{{1,64}}{_Q}{_WS},{_WS}{_Q}key{_Q}{_WS}:{_WS}"
        rf"{_Q}(?P<secret>[0-9a-f]{{32}}){_Q}",
        ["username"],
        groups=("secret",),
    ),
    _rule(
        "jupyter_kernel_key",
        # A kernel's connection file: its key signs messages, so it opens the kernel to anyone.
        rf"{_Q}key{_Q}{_WS}:{_WS}{_Q}(?P<secret>[0-9a-fA-F-]{{16,128}}){_Q}",
        ["signature_scheme"],
        groups=("secret",),
    ),
    _rule(
        "url_password",
        # scheme://user:password@host, the user possibly empty; the password may hold an '@'.
        r"://[^\s:/@\"'<>]{0,256}:(?!<redacted:)(?P<secret>[^\s/\"'<>]{1,256})(?=@)",
        ["://"],
        groups=("secret",),
        check=lambda m, s: not s.isdigit(),  # host:port@… is not a password
    ),
    _rule(
        "signed_url",
        r"[?&](?:x-amz-signature|x-amz-security-token|x-amz-credential|x-goog-signature"
        r"|x-goog-credential|signature|sig)=(?P<secret>[^&\s\"'#<>]{8,4096})",
        ["signature=", "sig=", "x-amz-", "x-goog-"],
        fold=True,
        groups=("secret",),
    ),
    _rule(
        "authorization",
        r"authorization\\{0,4}[\"']?[ \t]{0,8}[:=,][ \t]{0,8}\\{0,4}[\"']?[ \t]{0,8}"
        r"(?:(?:bearer|basic|token|digest|bot|apikey|sso-key|negotiate|ntlm)[ \t]{1,8})?"
        r"(?!<redacted:)(?P<secret>[a-z0-9._~+/=:-]{8,4096})",
        ["authorization"],
        fold=True,
        groups=("secret",),
    ),
    _rule(
        "authorization",
        _starts("bearer", "a-z") + r"[ \t]{1,8}(?!<redacted:)(?P<secret>[a-z0-9._~+/=-]{16,4096})",
        ["bearer"],
        fold=True,
        groups=("secret",),
        check=_random,
    ),
    _rule(
        "password",
        # .netrc: machine HOST login USER password SECRET
        _starts("machine", "a-z0-9_")
        + r"[ \t]{1,8}\S{1,256}[ \t\r\n]{1,8}login[ \t]{1,8}\S{1,256}[ \t\r\n]{1,8}"
        r"password[ \t]{1,8}(?P<secret>\S{1,256})",
        ["machine"],
        fold=True,
        groups=("secret",),
    ),
    _rule(
        "password",
        rf"(?P<name>{_PASSWORD_NAMES}){_SEPARATOR}{_VALUE}",
        ["password", "passwd", "passphrase", "pwd"],
        fold=True,
        groups=("qvalue", "uvalue"),
        check=_password_value,
    ),
    _rule(
        "password",
        _starts("--", r"\w-") + rf"(?P<name>{_PASSWORD_NAMES})(?:[ \t]{{1,8}}|=){_VALUE}",
        ["--password", "--passwd", "--pwd", "--passphrase"],
        fold=True,
        groups=("qvalue", "uvalue"),
        check=lambda m, s: _is_literal(m, s),
    ),
    _rule(
        "token",
        rf"(?P<name>{_TOKEN_NAMES}){_SEPARATOR}{_VALUE}",
        _TOKEN_KEYWORDS,
        fold=True,
        groups=("qvalue", "uvalue"),
        check=_token_value,
    ),
    _rule(
        "token",
        _starts("--", r"\w-") + rf"(?P<name>{_TOKEN_NAMES})(?:[ \t]{{1,8}}|=){_VALUE}",
        [
            "--secret",
            "--token",
            "--api-key",
            "--api_key",
            "--apikey",
            "--access-key",
            "--auth-key",
            "--private-key",
            "--credential",
        ],
        fold=True,
        groups=("qvalue", "uvalue"),
        check=lambda m, s: len(s) >= 8 and _is_literal(m, s) and _mixed(s),
    ),
)

# -- binary blobs: base64 or hex runs of 256+ characters (an image printed as text) ------------------

_BLOB = r"A-Za-z0-9+/_-"
BLOB_RULES: tuple[Rule, ...] = (
    _rule(
        "base64",
        # Unbounded on purpose, and still linear: one character class, entered only at the start
        # of a run. A digit and a letter are asked for, so "-----" rulers are left alone.
        rf"(?<![{_BLOB}])[{_BLOB}]{{256,}}={{0,2}}",
        [],  # no keyword: its pattern is one character class, cheap everywhere
        check=lambda m, s: any(c.isdigit() for c in s) and any(c.isalpha() for c in s),
    ),
)

# -- personal data (privacy level `redacted`) -------------------------------------------------------


def _ip_address(match: re.Match[str], secret: str) -> bool:
    """Four numbers up to 255 that start a word (v1.2.3.4 and 1.2.3.4.5 are versions)."""
    start = match.start()
    before = match.string[max(0, start - 2) : start]
    if before and (before[-1].isalnum() or before[-1] in "._") and before[:1] != "\\":
        return False
    octets = [int(part) for part in secret.split(".")]
    return all(o <= 255 for o in octets) and octets[0] not in (0, 127, 255)


PERSONAL_RULES: tuple[Rule, ...] = (
    _rule(
        "email",
        # Not after ':' or '/': user:password@host and https://user@host are URLs, not e-mail.
        r"[A-Za-z0-9._%+-](?<![A-Za-z0-9._%+:/-][A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{0,63}@"
        r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z0-9-])",
        ["@"],
    ),
    _rule(
        "user",
        r"(?:/home/|/users/|[a-z]:\\{1,2}users\\{1,2})(?!<redacted:)(?P<secret>[^/\\\s\"':]{1,64})",
        ["/home/", "/users/", "\\users\\"],
        fold=True,
        groups=("secret",),
        check=lambda m, s: s.lower() not in ("shared", "public", "default"),
    ),
    _rule(
        "ip_address",
        r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?![\w.])",
        [],
        check=_ip_address,
    ),
)


def literal_rule(kind: str, terms: Iterable[str]) -> Rule | None:
    """Exact words known to identify this machine or notebook (its host name, notebook id)."""
    words = sorted({t for t in terms if len(t) >= 4}, key=len, reverse=True)
    if not words:
        return None
    alternatives = "|".join(_starts(re.escape(w), r"\w.-") for w in words)
    return _rule(kind, rf"(?:{alternatives})(?![\w-])", words)


def secret_scrubber() -> Scrubber:
    """Secrets and blobs: what every privacy level removes."""
    return Scrubber(SECRET_RULES + BLOB_RULES)


def personal_scrubber(identifiers: Iterable[str] = ()) -> Scrubber:
    """Secrets, personal data (and the given identifying words), blobs: the `redacted` level."""
    extra = literal_rule("identifier", identifiers)
    personal = PERSONAL_RULES + ((extra,) if extra else ())
    return Scrubber(SECRET_RULES + personal + BLOB_RULES)
