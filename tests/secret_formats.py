"""Token formats for the corpus: a maker per kind (format-valid, checksums where the format has
one) and a near miss per kind (what the rule must leave alone).

Facts about formats follow gitleaks' default rule list and the services' own documentation; the
values are made from a seeded generator, so the repository holds no secret-shaped literal.
"""

from __future__ import annotations

import string
import zlib
from collections.abc import Callable

from secret_corpus import ALNUM, B64, HEX, URLSAFE, SecretMaker

Maker = Callable[[SecretMaker], str]
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
UPPER_DIGITS = string.ascii_uppercase + string.digits
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l".upper()


def base62(number: int, width: int = 6) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
    return digits.rjust(width, "0")


def with_crc32(m: SecretMaker, prefix: str, random_part: int = 30) -> str:
    """GitHub's (and npm's) token layout: 30 random characters and their CRC32 in base62."""
    body = m.chars(random_part)
    return f"{prefix}{body}{base62(zlib.crc32(body.encode()))}"


def uuid_like(m: SecretMaker) -> str:
    return "-".join(m.chars(n, HEX) for n in (8, 4, 4, 4, 12))


def p(*parts: str) -> str:
    """A near miss written in pieces, so no scanner takes this file for a key file."""
    return "".join(parts)


# kind -> (maker, near miss)
FORMATS: dict[str, tuple[Maker, str]] = {
    "huggingface_token": (lambda m: "hf_" + m.chars(34, string.ascii_letters), p("hf_", "hub_download")),
    "github_token": (lambda m: with_crc32(m, "ghp_"), p("gh", "p_", "example")),
    "github_fine_grained_token": (
        lambda m: "github_pat_11" + m.chars(20, UPPER_DIGITS) + "_" + m.chars(59),
        p("github", "_pat_", "x"),
    ),
    "gitlab_token": (lambda m: "glpat-" + m.chars(20, URLSAFE), p("gl", "pat-", "xxxx")),
    "anthropic_key": (lambda m: "sk-ant-api03-" + m.chars(93, URLSAFE) + "AA", p("sk-", "ant-", "api03-")),
    "openai_key": (lambda m: "sk-proj-" + m.chars(74, URLSAFE) + "T3BlbkFJ" + m.chars(74, URLSAFE),
                   p("sk-", "learn")),
    "slack_token": (lambda m: f"xoxb-{m.chars(12, string.digits)}-{m.chars(13, string.digits)}-{m.chars(24)}",
                    p("xo", "xb-", "...")),
    "pypi_token": (lambda m: "pypi-AgEIcHlwaS5vcmc" + m.chars(70, URLSAFE), p("pypi", "-Ag")),
    "npm_token": (lambda m: with_crc32(m, "npm_"), p("npm", "_install")),
    "docker_token": (lambda m: "dckr_pat_" + m.chars(27, URLSAFE), p("dckr", "_pat_", "x")),
    "slack_webhook": (
        lambda m: f"T{m.chars(8, UPPER_DIGITS)}/B{m.chars(10, UPPER_DIGITS)}/{m.chars(24)}",
        p("T", "ODO/B", "UG/fix"),
    ),
    "google_api_key": (lambda m: "AIza" + m.chars(35, URLSAFE), p("AI", "za", "Sy")),
    "google_oauth_token": (lambda m: "ya29.a0" + m.chars(120, URLSAFE), p("ya", "29.", "a0")),
    "google_client_secret": (lambda m: "GOCSPX-" + m.chars(28, URLSAFE), p("GOC", "SPX-")),
    "stripe_key": (lambda m: "sk_live_" + m.chars(99), p("sk_", "live_", "xxxxx")),
    "jwt": (lambda m: m.jwt(), p("ey", "J0eXAiOi")),
    "aws_access_key_id": (lambda m: "AKIA" + m.chars(16, string.ascii_uppercase + "234567"),
                          p("AK", "IA", "EXAMPLE")),
    "azure_client_secret": (
        lambda m: m.chars(3, ALNUM) + m.chars(1, string.digits) + "Q~" + m.chars(34, ALNUM + "_~.-"),
        p("a1Q", "~short"),
    ),
    "databricks_token": (lambda m: "dapi" + m.chars(32, HEX) + "-2", p("da", "pi_", "version")),
    "sendgrid_key": (lambda m: f"SG.{m.chars(22, URLSAFE)}.{m.chars(43, URLSAFE)}", p("SG", ".Client")),
    "twilio_key": (lambda m: "SK" + m.chars(32, HEX), p("SK", "ip")),
    "mailgun_key": (lambda m: "key-" + m.chars(32, HEX), p("key", "-value")),
    "firebase_key": (lambda m: f"AAAA{m.chars(7, URLSAFE)}:APA91b{m.chars(134, URLSAFE)}", p("AAAA", ":APA")),
    "telegram_token": (lambda m: f"{m.chars(10, string.digits)}:AA{m.chars(33, URLSAFE)}", p("12", ":AA", "x")),
    "discord_token": (
        lambda m: f"MT{m.chars(24, ALNUM)}.{m.chars(6, URLSAFE)}.{m.chars(38, URLSAFE)}",
        p("Model", ".config", ".to_json"),
    ),
    "discord_webhook": (
        lambda m: f"https://discord.com/api/webhooks/{m.chars(19, string.digits)}/{m.chars(68, URLSAFE)}",
        p("https://discord", ".com/api/webhooks"),
    ),
    "teams_webhook": (
        lambda m: f"https://acme.webhook.office.com/webhookb2/{uuid_like(m)}@{uuid_like(m)}"
        f"/IncomingWebhook/{m.chars(32, HEX)}/{uuid_like(m)}",
        p("https://acme.", "webhook.office.com/"),
    ),
    "age_secret_key": (lambda m: "AGE-SECRET-KEY-1" + m.chars(58, BECH32), p("AGE-", "SECRET-KEY-1")),
    "onepassword_token": (lambda m: "ops_eyJ" + m.chars(300, B64), p("ops", "_eyJ")),
    "alibaba_key": (lambda m: "LTAI" + m.chars(20), p("LT", "AI", "x")),
    "artifactory_key": (lambda m: "AKCp" + m.chars(69), p("AK", "Cp")),
    "atlassian_token": (lambda m: "ATATT3" + m.chars(186, URLSAFE + "="), p("ATA", "TT3")),
    "clojars_token": (lambda m: "CLOJARS_" + m.chars(60, string.ascii_lowercase + string.digits), p("CLOJARS", "_")),
    "cloudflare_key": (lambda m: f"v1.0-{m.chars(24, HEX)}-{m.chars(146, HEX)}", p("v1", ".0-", "beta")),
    "digitalocean_token": (lambda m: "dop_v1_" + m.chars(64, HEX), p("dop", "_v1_")),
    "doppler_token": (lambda m: "dp.pt." + m.chars(43), p("dp", ".pt.", "x")),
    "duffel_token": (lambda m: "duffel_live_" + m.chars(43, URLSAFE), p("duffel", "_live_")),
    "dynatrace_token": (lambda m: f"dt0c01.{m.chars(24, UPPER_DIGITS)}.{m.chars(64, UPPER_DIGITS)}", p("dt0c", "01.")),
    "easypost_key": (lambda m: "EZAK" + m.chars(54), p("EZ", "AK")),
    "facebook_token": (lambda m: "EAAC" + m.chars(150), p("EA", "AC", "short")),
    "flutterwave_key": (lambda m: f"FLWSECK_TEST-{m.chars(32, 'abcdefgh0123456789')}-X", p("FLWSECK", "_TEST-")),
    "flyio_token": (lambda m: "fo1_" + m.chars(43, URLSAFE), p("fo1", "_x")),
    "frameio_token": (lambda m: "fio-u-" + m.chars(64, URLSAFE), p("fio", "-u-")),
    "grafana_token": (lambda m: f"glsa_{m.chars(32)}_{m.chars(8, HEX)}", p("gl", "sa_")),
    "harness_token": (lambda m: f"pat.{m.chars(22, URLSAFE)}.{m.chars(24)}.{m.chars(20)}", p("pat", ".name")),
    "terraform_token": (lambda m: f"{m.chars(14)}.atlasv1.{m.chars(67, URLSAFE)}", p(".atlas", "v1.")),
    "vault_token": (lambda m: "hvs." + m.chars(95, URLSAFE), p("hvs", ".x")),
    "heroku_key": (lambda m: "HRKU-AA" + m.chars(58, URLSAFE), p("HRKU", "-AA")),
    "hubspot_token": (lambda m: "pat-na1-" + uuid_like(m), p("pat", "-na1-")),
    "infracost_token": (lambda m: "ico-" + m.chars(32), p("ico", "-small")),
    "linear_key": (lambda m: "lin_api_" + m.chars(40), p("lin", "_api_")),
    "mapbox_token": (lambda m: f"sk.eyJ{m.chars(60)}.{m.chars(22)}", p("sk", ".eyJ")),
    "maxmind_key": (lambda m: f"{m.chars(6)}_{m.chars(29)}_mmk", p("_", "mmk")),
    "newrelic_key": (lambda m: "NRAK-" + m.chars(27, UPPER_DIGITS), p("NR", "AK-")),
    "notion_token": (lambda m: f"ntn_{m.chars(11, string.digits)}{m.chars(35)}", p("ntn", "_x")),
    "octopus_key": (lambda m: "API-" + m.chars(26, UPPER_DIGITS), p("API", "-REFERENCE")),
    "openshift_token": (lambda m: "sha256~" + m.chars(43, URLSAFE), p("sha256", "~")),
    "perplexity_key": (lambda m: "pplx-" + m.chars(48), p("pp", "lx-")),
    "planetscale_token": (lambda m: "pscale_tkn_" + m.chars(43, URLSAFE), p("pscale", "_tkn_")),
    "postman_key": (lambda m: f"PMAK-{m.chars(24, HEX)}-{m.chars(34, HEX)}", p("PM", "AK-")),
    "prefect_key": (lambda m: "pnu_" + m.chars(36), p("pnu", "_")),
    "pulumi_token": (lambda m: "pul-" + m.chars(40, HEX), p("pul", "-")),
    "readme_key": (lambda m: "rdme_" + m.chars(70, string.ascii_lowercase + string.digits), p("rd", "me_")),
    "rubygems_key": (lambda m: "rubygems_" + m.chars(48, HEX), p("rubygems", "_org")),
    "scalingo_token": (lambda m: "tk-us-" + m.chars(48, URLSAFE), p("tk", "-us-")),
    "brevo_key": (lambda m: f"xkeysib-{m.chars(64, HEX)}-{m.chars(16)}", p("xkey", "sib-")),
    "sentry_token": (lambda m: "sntryu_" + m.chars(64, HEX), p("sntry", "u_")),
    "settlemint_token": (lambda m: "sm_pat_" + m.chars(16), p("sm", "_pat_")),
    "shippo_token": (lambda m: "shippo_live_" + m.chars(40, HEX), p("shippo", "_live_")),
    "shopify_token": (lambda m: "shpat_" + m.chars(32, HEX), p("shp", "at_")),
    "sourcegraph_token": (lambda m: "sgp_" + m.chars(40, HEX), p("sg", "p_")),
    "square_token": (lambda m: "sq0atp-" + m.chars(22, URLSAFE), p("sq0", "atp-")),
    "typeform_token": (lambda m: "tfp_" + m.chars(59, URLSAFE), p("tfp", "_")),
    "yandex_key": (lambda m: "AQVN" + m.chars(36, URLSAFE), p("AQ", "VN")),
    "twitter_token": (lambda m: "A" * 22 + m.chars(90), "A" * 30),
    "groq_key": (lambda m: "gsk_" + m.chars(52), p("gs", "k_")),
    "replicate_token": (lambda m: "r8_" + m.chars(37), p("r8", "_x")),
    "langsmith_key": (lambda m: f"lsv2_pt_{m.chars(32, HEX)}_{m.chars(10, HEX)}", p("lsv2", "_pt_")),
    "xai_key": (lambda m: "xai-" + m.chars(80), p("xai", "-grok")),
    "tavily_key": (lambda m: "tvly-dev-" + m.chars(32), p("tv", "ly-")),
    "pinecone_key": (lambda m: f"pcsk_{m.chars(6)}_{m.chars(60)}", p("pc", "sk_")),
    "nvidia_key": (lambda m: "nvapi-" + m.chars(64, URLSAFE), p("nv", "api-")),
}  # fmt: skip

# Where only part of what a maker returns is secret (the rest is a service's public URL).
SECRET_PART: dict[str, Callable[[str], str]] = {
    "discord_webhook": lambda url: url.rsplit("/", 1)[-1],
    "teams_webhook": lambda url: url.split("/webhookb2/", 1)[-1],
}

# Two ways a token turns up without any name that would give it away.
CONTEXTS: dict[str, Callable[[str], str]] = {
    "code, no name": lambda token: f'client = Client("{token}", timeout=30)',
    "log line": lambda token: f"INFO 12:00:01 request signed with {token} failed (401)",
}
