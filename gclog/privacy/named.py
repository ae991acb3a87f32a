"""Secrets found by what names them: a key's name, a header, a command's flag, a file's layout.

Most are ``fold`` rules (written in lower case, run on the lowercased text). The value's own
checks (:mod:`gclog.privacy.build`) keep code (``password=getpass()``), placeholders
(``<your-key>``) and paths (``PWD=/root``) out.
"""

from __future__ import annotations

import re

from gclog.privacy.build import (
    B64,
    SEPARATOR,
    VALUE,
    WS,
    Q,
    is_literal,
    mixed,
    password_value,
    random_check,
    rule,
    starts,
    token_value,
)
from gclog.privacy.runs import word_starts
from gclog.privacy.scrubber import Rule

_PASSWORD_NAMES = r"password|passwd|passphrase|pwd|pass|pw"
_PASSWORD_KEYWORDS = ("pass", "pwd", "pw")
_TOKEN_NAMES = (
    r"secret(?:[_-]?access)?(?:[_-]?key)?|token(?:[_-]?secret)?|api[_-]?key|apikey"
    r"|access[_-]?key|private[_-]?key|auth[_-]?key|kaggle[_-]?key|credentials?"
    r"|account[_-]?key|shared[_-]?access[_-]?key|subscription[_-]?key|functions?[_-]?key"
    r"|master[_-]?key|_authtoken|client[_-]?secret"
)


def _first_words(names: str) -> tuple[str, ...]:
    """The literal each alternative of ``names`` starts with: where a match can start."""
    words = []
    for alternative in names.split("|"):
        word = re.match(r"[a-z_]*", alternative).group()  # type: ignore[union-attr]
        if alternative[len(word) : len(word) + 1] in ("?", "*", "{"):
            word = word[:-1]  # the last letter is optional: credentials?
        assert word, alternative
        words.append(word)
    return tuple(words)


_TOKEN_KEYWORDS = (
    "secret", "token", "api_key", "api-key", "apikey", "access_key", "access-key", "accesskey",
    "private_key", "private-key", "privatekey", "auth_key", "auth-key", "authkey", "kaggle_key",
    "kaggle-key", "credential", "accountkey", "account_key", "account-key", "subscription-key",
    "subscription_key", "subscriptionkey", "function-key", "function_key", "functionkey",
    "functions-key", "functions_key", "functionskey", "master_key", "master-key", "masterkey",
)  # fmt: skip
_CORS = re.compile(r"[a-z]+(?:-[a-z]+)*", re.IGNORECASE)
_SCHEMES = ("bearer", "basic", "token", "digest", "bot", "apikey", "sso-key", "negotiate", "ntlm")


def _authorization(match: re.Match[str], secret: str) -> bool:
    """Not a header name in a list: ``Access-Control-Allow-Headers: Authorization, X-Api-Key``."""
    scheme = match.group("scheme")
    return scheme is not None or not _CORS.fullmatch(secret)


def _shell_value(match: re.Match[str], secret: str) -> bool:
    return secret[0] not in "$%{<" and secret.lower() not in ("-", "--", "stdin", "env")


# A shell word: a quoted string or a run of non-blank, non-quote characters.
_WORD_ARG = (
    r"(?:'(?P<sq>[^'\r\n]{1,256})'|\"(?P<dq>[^\"\r\n]{1,256})\"|(?P<bare>[^\s'\"`;|&]{1,256}))"
)
_ARG_GROUPS = ("sq", "dq", "bare")
_SAME_LINE = r"[^\r\n]{0,200}?"
_BLANKS = r"(?:\s|\\{1,4}[nrt]){1,8}"  # real or escaped (a repr, JSON)

NAMED_RULES: tuple[Rule, ...] = (
    rule(
        "aws_secret_access_key",
        r"(?:aws_?secret_?(?:access_?)?key|secret_?access_?key)\\{0,4}[\"']?[ \t]{0,8}[:=,]"
        rf"[ \t]{{0,8}}\\{{0,4}}[\"']?(?P<secret>[{B64.lower()}]{{40}})(?![{B64.lower()}=])",
        ["secret_access_key", "secretaccesskey", "aws_secret", "awssecret"],
        fold=True,
        groups=("secret",),
    ),
    rule(
        "aws_secret_access_key",
        # The secret key written near its access key id, without a name: boto3.client("s3", id, key).
        starts("A[KS]IA", "A-Z0-9")
        + rf"[A-Z0-9]{{16}}.{{1,160}}?(?<![{B64}])(?P<secret>[{B64}]{{40}})(?![{B64}=])",
        ["AKIA", "ASIA"],
        groups=("secret",),
        check=lambda m, s: mixed(s) and any(c.isdigit() for c in s),
        flags=re.S,
    ),
    rule(
        "kaggle_key",
        # kaggle.json, in either order of its two keys
        rf"username(?<=\"username){Q}{WS}:{WS}{Q}[^\"\\\n]{{1,64}}{Q}{WS},{WS}{Q}key{Q}{WS}:{WS}"
        rf"{Q}(?P<secret>[0-9a-f]{{32}}){Q}",
        ["username"],
        groups=("secret",),
    ),
    rule(
        "kaggle_key",
        rf"key(?<=\"key){Q}{WS}:{WS}{Q}(?P<secret>[0-9a-f]{{32}}){Q}{WS},{WS}{Q}username{Q}",
        ["username"],
        groups=("secret",),
    ),
    rule(
        "jupyter_kernel_key",
        # A kernel's connection file: its key signs messages, so it opens the kernel to anyone.
        rf"key(?<=\"key){Q}{WS}:{WS}{Q}(?P<secret>[0-9a-fA-F-]{{16,128}}){Q}",
        ["signature_scheme"],
        groups=("secret",),
        near=False,  # the keyword is elsewhere in the connection file
    ),
    rule(
        "azure_key",
        # Connection strings: AccountKey=…; SharedAccessKey=…; SharedAccessSignature=sv=…&sig=…
        starts(("accountkey", "sharedaccesskey", "sharedaccesssignature"), "a-z0-9_")
        + r"[ \t]{0,4}=[ \t]{0,4}(?P<secret>[a-z0-9+/=%&:._-]{16,2048})",
        ["accountkey", "sharedaccesskey", "sharedaccesssignature"],
        fold=True,
        groups=("secret",),
    ),
    rule(
        "azure_key",
        r"ocp-apim-subscription-key\\{0,4}[\"']?[ \t]{0,8}[:=,][ \t]{0,8}\\{0,4}[\"']?"
        r"(?P<secret>[a-z0-9]{16,64})",
        ["ocp-apim-subscription-key"],
        fold=True,
        groups=("secret",),
    ),
    rule(
        "npm_token",
        # .npmrc: //registry…/:_authToken=…, _auth=…, _password=…
        r"_(?:(?<![^\n:'\"]_)|(?<=\\n_))(?:authtoken|auth|password)[ \t]{0,4}=[ \t]{0,4}\"?"
        r"(?P<secret>[a-z0-9+/=._-]{8,512})",
        ["_authtoken", "_auth", "_password"],
        fold=True,
        groups=("secret",),
        check=lambda m, s: s[0] not in "${",
    ),
    rule(
        "wandb_key",
        # `wandb login KEY` (in a ! cell) and wandb.login(key=…)
        starts("wandb", "a-z0-9_")
        + r"(?:[ \t]{1,8}login(?:[ \t]{1,8}--?[a-z-]{1,16}(?:=\S{1,64})?){0,4}[ \t]{1,8}"
        r"|\.login\([^)\r\n]{0,80}?key[ \t]{0,4}=[ \t]{0,4}[rbfu]{0,2}\\{0,4}[\"'])"
        r"(?P<secret>(?:local-)?[a-z0-9_-]{20,128})",
        ["wandb"],
        fold=True,
        groups=("secret",),
    ),
    rule(
        "paperspace_key",
        r"(?:gradient|paperspace)(?:[ \t]{1,8}login)?[ \t]{1,8}(?:--)?apikey[ \t=]{1,8}"
        r"[\"']?(?P<secret>[a-z0-9_-]{16,128})",
        ["apikey"],
        fold=True,
        groups=("secret",),
    ),
    rule(
        "url_password",
        # scheme://user:password@host, the user possibly empty; the password may hold an '@'.
        r"://[^\s:/@\"'<>]{0,256}:(?!<redacted:)(?P<secret>[^\s/\"'<>]{1,256})(?=@)",
        ["://"],
        groups=("secret",),
        check=lambda m, s: not s.isdigit(),  # host:port@… is not a password
    ),
    rule(
        "signed_url",
        r"[?&](?:x-amz-signature|x-amz-security-token|x-amz-credential|x-goog-signature"
        r"|x-goog-credential|signature|sig|auth)=(?P<secret>[^&\s\"'#<>]{8,4096})",
        ["signature=", "sig=", "x-amz-", "x-goog-", "auth="],
        fold=True,
        groups=("secret",),
    ),
    rule(
        "authorization",
        r"authorization\\{0,4}[\"']?[ \t]{0,8}[:=,][ \t]{0,8}\\{0,4}[\"']?[ \t]{0,8}"
        rf"(?:(?P<scheme>{'|'.join(_SCHEMES)})[ \t]{{1,8}})?"
        r"(?!<redacted:)(?P<secret>[a-z0-9._~+/=:-]{8,4096})",
        ["authorization"],
        fold=True,
        groups=("secret",),
        check=_authorization,
    ),
    rule(
        "authorization",
        starts("bearer", "a-z") + r"[ \t]{1,8}(?!<redacted:)(?P<secret>[a-z0-9._~+/=-]{16,4096})",
        ["bearer"],
        fold=True,
        groups=("secret",),
        check=random_check,
    ),
    # -- passwords -----------------------------------------------------------------------------------
    rule(
        "password",
        # .netrc: machine HOST [login USER] [account …] password SECRET, in any order; or default
        r"(?:machine(?<![a-z0-9_]machine)[ \t]{1,8}[^\s\\]{1,256}"
        r"|default(?:(?<![^\n'\"]default)|(?<=\\ndefault)))"
        rf"(?:{_BLANKS}(?:login|account|port)[ \t]{{1,8}}[^\s\\]{{1,256}}){{0,3}}"
        rf"{_BLANKS}password[ \t]{{1,8}}(?P<secret>[^\s\\'\"]{{1,256}})",
        ["machine", "default"],
        fold=True,
        groups=("secret",),
    ),
    rule(
        "password",
        rf"(?P<name>{_PASSWORD_NAMES}){SEPARATOR}{VALUE}",
        _PASSWORD_KEYWORDS,
        fold=True,
        groups=("qvalue", "uvalue"),
        check=password_value,
    ),
    rule(
        "password",
        starts("--", r"\w-") + rf"(?P<name>{_PASSWORD_NAMES})(?:[ \t]{{1,8}}|=){VALUE}",
        ["--pass", "--pwd", "--pw"],
        fold=True,
        groups=("qvalue", "uvalue"),
        check=lambda m, s: is_literal(m, s),
    ),
    # on command lines, in ! cells and subprocess calls
    rule(
        "password",
        starts(("mysql", "mariadb"), "a-z0-9_-")
        + rf"{_SAME_LINE}[ \t\"',]-p(?P<secret>[^\s'\"`;|&-][^\s'\"`;|&]{{0,255}})",
        ["mysql", "mariadb"],
        fold=True,
        groups=("secret",),
        check=_shell_value,
    ),
    rule(
        "password",
        starts(("sshpass", "redis-cli"), "a-z0-9_-")
        + rf"{_SAME_LINE}[ \t\"',]-[pa](?:[ \t\"',]{{1,4}})?{_WORD_ARG}",
        ["sshpass", "redis-cli"],
        fold=True,
        groups=_ARG_GROUPS,
        check=_shell_value,
    ),
    rule(
        "password",
        # curl -u user:pass, --user user:pass (the user may be empty)
        starts("curl", "a-z0-9_-")
        + rf"{_SAME_LINE}[ \t\"',](?:-u|--user)(?:[ \t\"',]{{1,4}}|=)[\"']?[^\s:'\"]{{0,128}}:"
        r"(?P<secret>[^\s'\"`;|&]{1,256})",
        ["curl"],
        fold=True,
        groups=("secret",),
        check=_shell_value,
    ),
    rule(
        "password",
        # openssl …  -passout pass:SECRET, -passin pass:…, -pass pass:…, -k SECRET
        starts("-pass", "a-z0-9_-") + rf"(?:in|out)?[ \t]{{1,8}}[\"']?pass:{_WORD_ARG}",
        ["-pass"],
        fold=True,
        groups=_ARG_GROUPS,
    ),
    rule(
        "password",
        starts("smbclient", "a-z0-9_-")
        + rf"{_SAME_LINE}[ \t](?:-u|--user)(?:[ \t]{{1,4}}|=)[\"']?[^\s%'\"]{{1,128}}%"
        r"(?P<secret>[^\s'\"`;|&]{1,256})",
        ["smbclient"],
        fold=True,
        groups=("secret",),
    ),
    rule(
        "password",
        # htpasswd -b[c…] FILE USER PASSWORD
        starts("htpasswd", "a-z0-9_-")
        + rf"(?:[ \t]{{1,4}}-[a-z]{{0,6}}b[a-z]{{0,6}})(?:[ \t]{{1,4}}-[a-z]{{1,6}}){{0,3}}"
        rf"[ \t]{{1,4}}\S{{1,256}}[ \t]{{1,4}}\S{{1,128}}[ \t]{{1,4}}{_WORD_ARG}",
        ["htpasswd"],
        fold=True,
        groups=_ARG_GROUPS,
    ),
    # -- tokens by name ---------------------------------------------------------------------------
    rule(
        "token",
        rf"(?P<name>{_TOKEN_NAMES}){SEPARATOR}{VALUE}",
        _TOKEN_KEYWORDS,
        fold=True,
        groups=("qvalue", "uvalue"),
        check=token_value,
        # One Aho-Corasick pass for where a name starts: "token" and "secret" are everywhere
        # in notebooks (tokenizer), and the engine tries the names at every s, t, a, p, k, c…
        starts=word_starts(_first_words(_TOKEN_NAMES)),
    ),
    rule(
        "token",
        starts("--", r"\w-") + rf"(?P<name>{_TOKEN_NAMES})(?:[ \t]{{1,8}}|=){VALUE}",
        ["--secret", "--token", "--api-key", "--api_key", "--apikey", "--access-key",
         "--auth-key", "--private-key", "--credential", "--account-key"],
        fold=True,
        groups=("qvalue", "uvalue"),
        check=lambda m, s: len(s) >= 8 and is_literal(m, s) and mixed(s),
    ),
)  # fmt: skip
