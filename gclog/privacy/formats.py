"""Token formats: secrets recognised by their own shape (a prefix, an alphabet, a length).

The checklist of formats is gitleaks' default rule list (facts about formats carry over, its
patterns do not), plus the keys people use in notebooks (model hubs, experiment trackers, LLM APIs).

A high-confidence prefix (``ghp_``, ``github_pat_``, ``sk-ant-``, ``hf_``, ``xox…``) is enough on
its own: such a token is taken even cut short by a display (pandas shows 47 characters and ``…``),
with a lower bound well under the full length, and its rest is followed onto the next lines where a
table wrapped it (``wraps``). Lower-confidence shapes keep their full length and a check.
"""

from __future__ import annotations

import re

from gclog.privacy.build import ALNUM, B64, END, NEWLINE, Check, random_check, rule, starts
from gclog.privacy.runs import run_starts
from gclog.privacy.scrubber import Rule

_WORD = "A-Za-z0-9_"
_DASHED = "A-Za-z0-9_-"
_URLSAFE = ALNUM + "_-"


def _keywords(prefix: str) -> list[str]:
    return [re.sub(r"\\(.)", r"\1", prefix)]


def fmt(
    kind: str,
    prefix: str,
    body: str,
    keywords: list[str] | None = None,
    *,
    before: str = _DASHED,
    check: Check | None = None,
    wraps: str = "",
    groups: tuple[str, ...] = (),
    back: int = 0,
) -> Rule:
    """``prefix`` (a literal, at a word's start) then ``body``."""
    return rule(
        kind,
        starts(prefix, before) + body,
        keywords or _keywords(prefix),
        check=check,
        wraps=wraps,
        groups=groups,
        back=back,
    )


_PEM_BEGIN = r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
_PEM_SEP = r"(?:\\\\r\\\\n|\\\\n|\\r\\n|\\n|\r?\n)"
# Armor headers after the BEGIN line: Proc-Type/DEK-Info (PEM), Version/Comment/Hash (PGP).
_ARMOR_HEADERS = rf"(?:{NEWLINE}{{1,4}}[A-Za-z][A-Za-z-]{{1,31}}:[^\r\n\\]{{0,160}}){{0,8}}"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

_DISCORD_RUNS = run_starts("A-Za-z0-9_-", 24)


def _discord_starts(text: str) -> list[int]:
    """Runs of 24+ token characters that start with M, N or O and end in a dot within 28."""
    return [s for s in _DISCORD_RUNS(text) if text[s] in "MNO" and "." in text[s + 24 : s + 29]]


FORMAT_RULES: tuple[Rule, ...] = (
    rule(
        "private_key",
        # A PEM or PGP private key up to its END line (also JSON-escaped); without one, the BEGIN
        # line, its headers and the base64 lines that follow (a key cut short by a print).
        rf"{_PEM_BEGIN}{_ARMOR_HEADERS}"
        rf"(?:[A-Za-z0-9+/=\s\\:,]{{0,16384}}?{_PEM_END}"
        rf"|(?:{_PEM_SEP}{{1,4}}[{B64}=]{{1,100}}(?=\\|[\r\n\"']|$)){{0,160}})",
        ["PRIVATE KEY"],
    ),
    # -- high confidence: taken cut short and wrapped ---------------------------------------------
    fmt("huggingface_token", "hf_", rf"[A-Za-z0-9]{{10,64}}{END}", check=random_check,
        before=_WORD, wraps=ALNUM),
    fmt("huggingface_token", "api_org_", rf"[A-Za-z]{{12,40}}{END}", check=random_check,
        before=_WORD),
    fmt("github_token", "gh[pousr]_", rf"[A-Za-z0-9]{{10,251}}{END}",
        ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], before=_WORD, check=random_check, wraps=ALNUM),
    fmt("github_fine_grained_token", "github_pat_", r"[A-Za-z0-9_]{10,251}", before=_WORD,
        wraps=ALNUM + "_"),
    fmt("gitlab_token", "gl",
        r"(?:pat|dt|rt|ptt|ft|imt|cbt|soat|agent|oas|wt|ffct)-[A-Za-z0-9_.-]{16,300}",
        ["glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glimt-", "glcbt-", "glsoat-",
         "glagent-", "gloas-", "glwt-", "glffct-"], wraps=_URLSAFE),
    fmt("anthropic_key", "sk-ant-", r"(?:api|admin|oat|sid)[0-9]{2}-[A-Za-z0-9_-]{8,250}",
        wraps=_URLSAFE),
    fmt("openai_key", "sk-", r"(?!ant-)(?:proj-|svcacct-|admin-|or-v1-)?[A-Za-z0-9_-]{20,250}",
        check=random_check, wraps=_URLSAFE),
    fmt("openai_key", "sk-", r"(?:proj|svcacct|admin)-[A-Za-z0-9_-]{8,19}(?![A-Za-z0-9_-])",
        ["sk-proj-", "sk-svcacct-", "sk-admin-"], check=random_check),
    fmt("slack_token", "(?:xox[abposer]|xapp)-", r"[A-Za-z0-9-]{10,250}",
        ["xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxe-", "xoxr-", "xapp-"],
        check=random_check, wraps=ALNUM + "-"),
    fmt("pypi_token", "pypi-Ag", r"[A-Za-z0-9_-]{24,2048}", wraps=_URLSAFE),
    fmt("npm_token", "npm_", rf"[A-Za-z0-9]{{12,36}}{END}", before=_WORD, check=random_check,
        wraps=ALNUM),
    fmt("docker_token", "dckr_(?:pat|oat)_", r"[A-Za-z0-9_-]{12,64}",
        ["dckr_pat_", "dckr_oat_"], before=_WORD),
    # -- by shape ---------------------------------------------------------------------------------
    rule(
        "slack_webhook",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<path>[A-Za-z0-9_/-]{20,250})",
        ["hooks.slack.com"],
        groups=("path",),
    ),
    # The path alone (the URL built from pieces): T…/B…/secret.
    fmt("slack_webhook", "T", r"[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{20,32}" + END, ["/B"],
        before=ALNUM),
    fmt("google_api_key", "AIza", r"[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])"),
    fmt("google_oauth_token", r"ya29\.", r"[0-9A-Za-z_-]{20,2048}"),
    fmt("google_oauth_token", "1//0", r"[0-9A-Za-z_-]{30,512}", before="A-Za-z0-9_/-"),
    fmt("google_client_secret", "GOCSPX-", r"[0-9A-Za-z_-]{20,40}"),
    fmt("stripe_key", "[sr]k_(?:live|test|prod)_", r"[0-9A-Za-z]{10,247}",
        ["_live_", "_test_", "_prod_"], before=_WORD, check=random_check),
    fmt("stripe_key", "whsec_", r"[A-Za-z0-9+/=]{24,128}", before=_WORD),
    fmt("jwt", "eyJ", r"[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{0,4096}"),
    fmt("aws_access_key_id", "(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)", r"[A-Z0-9]{16}(?![A-Z0-9])",
        ["AKIA", "ASIA", "ABIA", "ACCA", "A3T"], before="A-Z0-9"),
    rule(
        "azure_client_secret",
        # the secret starts four characters before its "Q~": three, then a digit
        r"Q~(?<=(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.]{3}[0-9]Q~)[A-Za-z0-9_~.-]{31,34}"
        r"(?![A-Za-z0-9_~.-])",
        ["Q~"],
        back=4,
    ),
    fmt("databricks_token", "dapi", rf"[a-f0-9]{{32}}(?:-[0-9])?{END}", before=_WORD),
    fmt("sendgrid_key", r"SG\.", r"[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{24,64}", before=_WORD),
    fmt("twilio_key", "SK", rf"[0-9a-fA-F]{{32}}{END}", before=_WORD,
        check=lambda m, s: any(c.isalpha() for c in s[2:]) and any(c.isdigit() for c in s)),
    fmt("mailgun_key", "key-", rf"[0-9a-f]{{32}}{END}"),
    fmt("firebase_key", "AAAA", r"[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{100,200}", [":APA91b"]),
    rule(
        "telegram_token",
        # in a Bot API URL (https://api.telegram.org/bot<token>/…): the match reads the "bot"
        # the token runs on from, so its redaction needs no second look (scrubber.Finding.framed)
        r"/bot(?P<secret>[0-9]{8,10}:AA[A-Za-z0-9_-]{32,34})(?![A-Za-z0-9_-])",
        ["/bot"],
        groups=("secret",),
    ),
    rule(
        "telegram_token",
        # a bot's id, then its secret
        r":AA[A-Za-z0-9_-]{32,34}(?![A-Za-z0-9_-])",
        [":AA"],
        widen="0123456789",
        back=10,
        min_back=8,
        check=lambda m, s: not m.string[m.end() - len(s) - 1 : m.end() - len(s)].isdigit(),
    ),
    rule(
        "discord_token",
        r"[MNO](?<![A-Za-z0-9_.-][MNO])[A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\."
        r"[A-Za-z0-9_-]{27,38}(?![A-Za-z0-9_-])",
        [],  # no literal: tried where its first part can start (below)
        check=lambda m, s: random_check(m, s.split(".")[0]),
        starts=_discord_starts,
    ),
    rule(
        "discord_webhook",
        r"discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/(?P<secret>[A-Za-z0-9_-]{60,68})",
        ["discord"],
        groups=("secret",),
    ),
    rule(
        "teams_webhook",
        r"\.webhook\.office\.com/webhookb2/(?P<secret>[A-Za-z0-9@/-]{60,300})",
        ["webhook.office.com"],
        groups=("secret",),
    ),
    # -- gitleaks' list: one rule each, full length ------------------------------------------------
    fmt("age_secret_key", "AGE-SECRET-KEY-1", r"[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
    fmt("onepassword_token", "ops_eyJ", r"[A-Za-z0-9+/]{200,2048}={0,3}"),
    fmt("alibaba_key", "LTAI", rf"[A-Za-z0-9]{{20}}{END}", check=random_check),
    fmt("artifactory_key", "AKCp", rf"[A-Za-z0-9]{{69}}{END}"),
    fmt("atlassian_token", "ATATT3", r"[A-Za-z0-9_=-]{100,300}"),
    fmt("clojars_token", "CLOJARS_", r"[a-z0-9]{60}"),
    fmt("cloudflare_key", r"v1\.0-", r"[a-f0-9]{24}-[a-f0-9]{146}"),
    fmt("digitalocean_token", "do[opr]_v1_", r"[a-f0-9]{64}", ["dop_v1_", "doo_v1_", "dor_v1_"]),
    fmt("doppler_token", r"dp\.", r"(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9_-]{40,44}",
        ["dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit."]),
    fmt("duffel_token", "duffel_(?:test|live)_", r"[A-Za-z0-9_=-]{43}",
        ["duffel_test_", "duffel_live_"]),
    fmt("dynatrace_token", r"dt0c01\.", r"[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}"),
    fmt("easypost_key", "EZ[AT]K", rf"[A-Za-z0-9]{{54}}{END}", ["EZAK", "EZTK"]),
    fmt("facebook_token", "EAA[MC]", rf"[A-Za-z0-9]{{100,400}}{END}", ["EAAM", "EAAC"]),
    fmt("flutterwave_key", "FLW(?:SECK|PUBK)_TEST-", r"[a-hA-H0-9]{32}-X",
        ["FLWSECK_TEST-", "FLWPUBK_TEST-"]),
    fmt("flyio_token", "fo1_", r"[A-Za-z0-9_-]{43}", before=_WORD),
    fmt("flyio_token", "fm[12]", r"[ar]?_[A-Za-z0-9+/]{100,2048}={0,3}",
        ["fm1a_", "fm1r_", "fm2_"], before=_WORD),
    fmt("frameio_token", "fio-u-", r"[A-Za-z0-9_=-]{64}"),
    fmt("grafana_token", "glc_", r"[A-Za-z0-9+/]{32,400}={0,3}", before=_WORD),
    fmt("grafana_token", "glsa_", r"[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}", before=_WORD),
    fmt("grafana_token", "eyJrIjoi", r"[A-Za-z0-9]{70,400}={0,3}"),
    fmt("harness_token", r"(?:pat|sat)\.", r"[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}",
        ["pat.", "sat."], before=_WORD),
    rule("terraform_token",
         r"\.atlasv1\.(?<=(?<![A-Za-z0-9])[A-Za-z0-9]{14}\.atlasv1\.)[A-Za-z0-9_=-]{60,70}",
         [".atlasv1."], back=14),
    fmt("vault_token", r"hv[sb]\.", r"[A-Za-z0-9_-]{90,300}", ["hvs.", "hvb."], before=_WORD),
    fmt("heroku_key", "HRKU-AA", r"[0-9A-Za-z_-]{58}"),
    fmt("hubspot_token", "pat-(?:na|eu)1-", _UUID, ["pat-na1-", "pat-eu1-"]),
    fmt("infracost_token", "ico-", rf"[A-Za-z0-9]{{32}}{END}", check=random_check),
    fmt("linear_key", "lin_api_", r"[A-Za-z0-9]{40}"),
    fmt("mapbox_token", r"sk\.eyJ", r"[A-Za-z0-9_-]{50,400}\.[A-Za-z0-9_-]{20,64}"),
    rule("maxmind_key", r"_mmk(?<=(?<![A-Za-z0-9_])[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk)" + END,
         ["_mmk"], back=36),
    fmt("newrelic_key", "NR(?:AK|JS|II)-", r"[A-Za-z0-9-]{19,32}", ["NRAK-", "NRJS-", "NRII-"]),
    fmt("notion_token", "ntn_", rf"[0-9]{{11}}[A-Za-z0-9]{{35}}{END}", before=_WORD),
    fmt("octopus_key", "API-", rf"[A-Z0-9]{{26}}{END}", check=random_check),
    fmt("openshift_token", "sha256~", r"[A-Za-z0-9_-]{43}"),
    fmt("perplexity_key", "pplx-", rf"[A-Za-z0-9]{{48}}{END}"),
    fmt("planetscale_token", "pscale_", r"(?:tkn|pw|oauth)_[A-Za-z0-9_=.-]{32,64}",
        ["pscale_tkn_", "pscale_pw_", "pscale_oauth_"], before=_WORD),
    fmt("postman_key", "PMAK-", r"[a-f0-9]{24}-[a-f0-9]{34}"),
    fmt("prefect_key", "pnu_", rf"[A-Za-z0-9]{{36}}{END}", before=_WORD),
    fmt("pulumi_token", "pul-", rf"[a-f0-9]{{40}}{END}"),
    fmt("readme_key", "rdme_", rf"[a-z0-9]{{70}}{END}", before=_WORD),
    fmt("rubygems_key", "rubygems_", rf"[a-f0-9]{{48}}{END}", before=_WORD),
    fmt("scalingo_token", "tk-us-", r"[A-Za-z0-9_-]{48}"),
    fmt("brevo_key", "xkeysib-", r"[a-f0-9]{64}-[A-Za-z0-9]{16}"),
    fmt("sentry_token", "sntry[su]_", r"[A-Za-z0-9+/=_]{64,400}", ["sntrys_", "sntryu_"],
        before=_WORD),
    fmt("settlemint_token", "sm_(?:aat|pat|sat)_", rf"[A-Za-z0-9]{{16}}{END}",
        ["sm_aat_", "sm_pat_", "sm_sat_"], before=_WORD),
    fmt("shippo_token", "shippo_(?:live|test)_", rf"[a-fA-F0-9]{{40}}{END}",
        ["shippo_live_", "shippo_test_"], before=_WORD),
    fmt("shopify_token", "shp(?:at|ca|pa|ss)_", rf"[a-fA-F0-9]{{32}}{END}",
        ["shpat_", "shpca_", "shppa_", "shpss_"], before=_WORD),
    fmt("sourcegraph_token", "sgp_", r"(?:[a-fA-F0-9]{16}_)?[a-fA-F0-9]{40}" + END, before=_WORD),
    fmt("square_token", "sq0(?:atp|csp)-", r"[A-Za-z0-9_-]{22,60}", ["sq0atp-", "sq0csp-"]),
    fmt("typeform_token", "tfp_", r"[A-Za-z0-9_.=-]{59}", before=_WORD),
    fmt("yandex_key", "AQVN", r"[A-Za-z0-9_-]{35,38}(?![A-Za-z0-9_-])"),
    fmt("twitter_token", "A{22}", r"[A-Za-z0-9%]{80,100}", ["AAAAAAAAAAAAAAAAAAAAAA"],
        before="A"),
    # LLM and notebook services not (yet) in that list
    fmt("groq_key", "gsk_", rf"[A-Za-z0-9]{{48,56}}{END}", before=_WORD, check=random_check),
    fmt("replicate_token", "r8_", rf"[A-Za-z0-9]{{37}}{END}", before=_WORD, check=random_check),
    fmt("langsmith_key", "lsv2_(?:pt|sk)_", r"[a-f0-9]{32}_[a-f0-9]{10}",
        ["lsv2_pt_", "lsv2_sk_"], before=_WORD),
    fmt("xai_key", "xai-", rf"[A-Za-z0-9]{{70,90}}{END}", check=random_check),
    fmt("tavily_key", "tvly-", rf"(?:dev-|prod-)?[A-Za-z0-9]{{28,40}}{END}", check=random_check),
    fmt("pinecone_key", "pcsk_", r"[A-Za-z0-9]{5,8}_[A-Za-z0-9]{40,80}" + END, before=_WORD),
    fmt("nvidia_key", "nvapi-", r"[A-Za-z0-9_-]{60,70}"),
)  # fmt: skip
