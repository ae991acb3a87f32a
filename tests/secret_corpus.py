"""Planted-secret and clean corpora: notebook transcripts as people's notebooks print them.

The secrets are made here, from a seeded generator, in the real shapes of each kind (prefixes,
lengths, alphabets): the repository holds no secret-shaped literal for scanners to trip on, and
every run plants the same values. Each planted entry is (kind, context, text, values): the rule
that must name it, where such text comes from, the transcript, and the secret values in it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
import zlib
from dataclasses import dataclass

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"


class SecretMaker:
    """Fake credentials in the real formats. Nothing here is, or was, a live credential."""

    def __init__(self, seed: int = 6) -> None:
        self.rng = random.Random(seed)

    def chars(self, n: int, alphabet: str = ALNUM) -> str:
        # Real tokens are random enough to hold every character class of their alphabet.
        classes = [c for c in (string.digits, string.ascii_uppercase, string.ascii_lowercase)
                   if set(c) & set(alphabet)]  # fmt: skip
        while True:
            text = "".join(self.rng.choice(alphabet) for _ in range(n))
            if all(set(c) & set(text) for c in classes):
                return text

    def huggingface(self) -> str:
        return "hf_" + self.chars(34, string.ascii_letters)

    def aws_key_id(self, prefix: str = "AKIA") -> str:
        return prefix + self.chars(16, string.ascii_uppercase + "234567")

    def aws_secret(self) -> str:
        return self.chars(40, B64)

    def github(self, prefix: str = "ghp_") -> str:
        return prefix + self.chars(36)

    def github_fine_grained(self) -> str:
        return "github_pat_" + self.chars(22) + "_" + self.chars(59)

    def gitlab(self) -> str:
        return "glpat-" + self.chars(20, URLSAFE)

    def openai(self) -> str:
        return "sk-proj-" + self.chars(156, URLSAFE)

    def openai_legacy(self) -> str:
        return "sk-" + self.chars(48)

    def anthropic(self) -> str:
        return "sk-ant-api03-" + self.chars(93, URLSAFE) + "AA"

    def slack_bot(self) -> str:
        digits = string.digits
        return f"xoxb-{self.chars(12, digits)}-{self.chars(13, digits)}-{self.chars(24)}"

    def slack_webhook_path(self) -> str:
        upper = string.ascii_uppercase + string.digits
        return f"T{self.chars(8, upper)}/B{self.chars(10, upper)}/{self.chars(24)}"

    def google_api_key(self) -> str:
        return "AIza" + self.chars(35, URLSAFE)

    def google_access_token(self) -> str:
        return "ya29.a0" + self.chars(150, URLSAFE)

    def google_refresh_token(self) -> str:
        return "1//0" + self.chars(60, URLSAFE)

    def google_client_secret(self) -> str:
        return "GOCSPX-" + self.chars(28, URLSAFE)

    def stripe(self, prefix: str = "sk_live_") -> str:
        return prefix + self.chars(99)

    def pypi(self) -> str:
        return "pypi-AgEIcHlwaS5vcmc" + self.chars(150, URLSAFE)

    def jwt(self) -> str:
        def part(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        header = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {"sub": self.chars(12), "exp": 1900000000 + self.rng.randrange(10**6)}
        payload = part(json.dumps(claims).encode())
        return f"{header}.{payload}.{part(self.rng.randbytes(32))}"

    def pem_body(self, lines: int = 25) -> list[str]:
        body = base64.b64encode(self.rng.randbytes(48 * lines)).decode()
        return [body[i : i + 64] for i in range(0, len(body), 64)]

    def rsa_pem(self) -> str:
        body = "\n".join(self.pem_body())
        return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"

    def openssh_pem(self) -> str:
        body = "\n".join(self.pem_body(7))
        return f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----"

    def password(self) -> str:
        words = ["maple", "Orbit", "tundra", "Quartz", "lumen", "Saffron"]
        return self.rng.choice(words) + self.chars(4, string.digits) + self.rng.choice("!#%&*")

    def url_password(self) -> str:
        return self.chars(14) + "%21"

    def hex_token(self, n: int = 40) -> str:
        return self.chars(n, HEX)


@dataclass(frozen=True)
class Planted:
    kind: str
    context: str
    text: str
    values: tuple[str, ...]


def planted_corpus(seed: int = 6) -> list[Planted]:
    m = SecretMaker(seed)
    out: list[Planted] = []

    def plant(kind: str, context: str, text: str, *values: str) -> None:
        out.append(Planted(kind, context, text, values))

    hf = m.huggingface()
    plant("huggingface_token", "%env", f"%env HF_TOKEN={hf}\nenv: HF_TOKEN={hf}", hf)
    hf = m.huggingface()
    plant(
        "huggingface_token",
        "code and traceback",
        f'from huggingface_hub import login\nlogin(token="{hf}")\n'
        "HTTPError: 401 Client Error: Unauthorized for url: "
        f"https://huggingface.co/api/whoami-v2 (token {hf} is invalid)",
        hf,
    )
    hf = m.huggingface()
    plant(
        "huggingface_token",
        "env dump",
        f"environ({{'HOME': '/root', 'HUGGING_FACE_HUB_TOKEN': '{hf}', 'LANG': 'C.UTF-8'}})",
        hf,
    )

    key_id, secret = m.aws_key_id(), m.aws_secret()
    plant(
        "aws_access_key_id",
        "credential file",
        f"$ cat ~/.aws/credentials\n[default]\naws_access_key_id = {key_id}\n"
        f"aws_secret_access_key = {secret}\nregion = eu-west-1",
        key_id,
    )
    plant(
        "aws_secret_access_key",
        "credential file",
        f"[default]\naws_access_key_id={key_id}\naws_secret_access_key={secret}\n",
        secret,
    )
    key_id, secret, session = m.aws_key_id("ASIA"), m.aws_secret(), m.chars(300, B64)
    plant(
        "aws_access_key_id",
        "JSON",
        json.dumps(
            {
                "Credentials": {
                    "AccessKeyId": key_id,
                    "SecretAccessKey": secret,
                    "SessionToken": session,
                    "Expiration": "2026-12-01T12:00:00Z",
                }
            },
            indent=2,
        ),
        key_id,
        secret,
        session,
    )
    key_id, secret = m.aws_key_id(), m.aws_secret()
    plant(
        "aws_secret_access_key",
        "code",
        f"s3 = boto3.client('s3', aws_access_key_id='{key_id}', aws_secret_access_key='{secret}')",
        key_id,
        secret,
    )
    key_id, secret = m.aws_key_id(), m.aws_secret()
    plant(
        "aws_secret_access_key",
        "code, no names",
        f'session = boto3.Session("{key_id}", "{secret}")',
        key_id,
        secret,
    )
    key_id, secret = m.aws_key_id(), m.aws_secret()
    plant(
        "aws_secret_access_key",
        "env dump",
        f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\nAWS_DEFAULT_REGION=us-east-1",
        key_id,
        secret,
    )

    gh = m.github()
    plant(
        "github_token",
        "git remote",
        f"!git remote -v\norigin\thttps://{gh}@github.com/someone/project.git (fetch)\n"
        f"origin\thttps://{gh}@github.com/someone/project.git (push)",
        gh,
    )
    gh = m.github("ghs_")
    plant(
        "github_token",
        "headers",
        f"> GET /repos/someone/project HTTP/1.1\n> Host: api.github.com\n"
        f"> Authorization: token {gh}\n> Accept: application/vnd.github+json",
        gh,
    )
    gh = m.github("gho_")
    plant(
        "github_token",
        "credential file",
        f"$ cat ~/.git-credentials\nhttps://someone:{gh}@github.com",
        gh,
    )
    pat = m.github_fine_grained()
    plant(
        "github_fine_grained_token",
        "env dump",
        f"GITHUB_TOKEN={pat}\nGITHUB_REPOSITORY=someone/project",
        pat,
    )
    pat = m.github_fine_grained()
    plant(
        "github_fine_grained_token",
        "pip index URL",
        f"!pip install git+https://{pat}@github.com/someone/private-lib.git\n"
        f"Collecting git+https://{pat}@github.com/someone/private-lib.git",
        pat,
    )

    gl = m.gitlab()
    plant(
        "gitlab_token",
        "git remote",
        f"origin  https://oauth2:{gl}@gitlab.example.com/team/model.git (fetch)",
        gl,
    )
    gl = m.gitlab()
    plant(
        "gitlab_token",
        "headers",
        f'requests.get(url, headers={{"PRIVATE-TOKEN": "{gl}"}})',
        gl,
    )

    oa = m.openai()
    plant(
        "openai_key",
        "%env",
        f"%env OPENAI_API_KEY={oa}\nenv: OPENAI_API_KEY={oa}",
        oa,
    )
    oa = m.openai_legacy()
    plant(
        "openai_key",
        "code and error",
        f'client = OpenAI(api_key="{oa}")\n'
        f"AuthenticationError: Error code: 401 - {{'error': {{'message': "
        f"'Incorrect API key provided: {oa}.'}}}}",
        oa,
    )

    ant = m.anthropic()
    plant(
        "anthropic_key",
        "env dump",
        f"!printenv | grep KEY\nANTHROPIC_API_KEY={ant}",
        ant,
    )
    ant = m.anthropic()
    plant(
        "anthropic_key",
        "headers",
        f"curl https://api.example.com/v1/messages -H 'x-api-key: {ant}' "
        "-H 'content-type: application/json'",
        ant,
    )

    sl = m.slack_bot()
    plant(
        "slack_token",
        "JSON",
        json.dumps({"channel": "#training", "token": sl, "text": "epoch 3 done"}),
        sl,
    )
    sl = m.slack_bot()
    plant(
        "slack_token",
        "headers",
        f"Authorization: Bearer {sl}\nContent-Type: application/json; charset=utf-8",
        sl,
    )
    hook = m.slack_webhook_path()
    plant(
        "slack_webhook",
        "URL",
        f"webhook = 'https://hooks.slack.com/services/{hook}'\n"
        f"requests.post(webhook, json={{'text': 'done'}})",
        hook,
    )
    hook = m.slack_webhook_path()
    plant(
        "slack_webhook",
        "env dump",
        f"SLACK_WEBHOOK_URL=https://hooks.slack.com/services/{hook}",
        hook,
    )

    gk = m.google_api_key()
    plant(
        "google_api_key",
        "URL",
        f"GET https://maps.example.com/api/geocode/json?address=London&key={gk} -> 200",
        gk,
    )
    gk = m.google_api_key()
    plant(
        "google_api_key",
        "code",
        f'genai.configure(api_key="{gk}")',
        gk,
    )
    ya, refresh, client_secret = (
        m.google_access_token(),
        m.google_refresh_token(),
        m.google_client_secret(),
    )
    plant(
        "google_oauth_token",
        "credential file",
        json.dumps(
            {
                "token": ya,
                "refresh_token": refresh,
                "client_id": "123456789012-abc.apps.example.com",
                "client_secret": client_secret,
            },
            indent=1,
        ),
        ya,
        refresh,
        client_secret,
    )
    ya = m.google_access_token()
    plant(
        "google_oauth_token",
        "headers",
        f"send: b'GET /drive/v3/files HTTP/1.1\\r\\nAuthorization: Bearer {ya}\\r\\n'",
        ya,
    )

    client_secret = m.google_client_secret()
    plant(
        "google_client_secret",
        "code",
        "flow = Flow.from_client_config({'web': {'client_id': 'abc.apps.example.com', "
        f"'client_secret': '{client_secret}'}}}}, scopes=SCOPES)",
        client_secret,
    )
    client_secret = m.google_client_secret()
    plant(
        "google_client_secret",
        "%env",
        f"%env GOOGLE_CLIENT_SECRET={client_secret}",
        client_secret,
    )

    st = m.stripe()
    plant("stripe_key", "code", f"stripe.api_key = '{st}'", st)
    st = m.stripe("rk_live_")
    plant("stripe_key", "env dump", f"STRIPE_KEY={st}\nSTRIPE_ACCOUNT=acct_1", st)

    pp = m.pypi()
    plant(
        "pypi_token",
        "credential file",
        f"$ cat ~/.pypirc\n[pypi]\n  username = __token__\n  password = {pp}",
        pp,
    )
    pp = m.pypi()
    plant(
        "pypi_token",
        "pip index URL",
        f"!pip config list\nglobal.extra-index-url='https://__token__:{pp}@pkgs.example.org/simple'",
        pp,
    )

    jw = m.jwt()
    plant(
        "jwt",
        "headers",
        f"{{'Authorization': 'Bearer {jw}', 'Accept': '*/*'}}",
        jw,
    )
    jw = m.jwt()
    plant("jwt", "JSON", json.dumps({"access_token": jw, "expires_in": 3600}), jw)

    pem = m.rsa_pem()
    plant("private_key", "credential file", f"$ cat ~/.ssh/id_rsa\n{pem}\n$ ls", pem)
    pem = m.openssh_pem()
    plant(
        "private_key",
        "JSON, escaped",
        json.dumps({"type": "service_account", "private_key": pem + "\n", "client_email": "x"}),
        pem,
    )
    lines = m.pem_body(9)
    cut = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines)
    plant("private_key", "cut short", f"print(key[:700])\n{cut}\n", cut)

    pw = m.url_password()
    plant(
        "url_password",
        "pip index URL",
        f"Looking in indexes: https://pypi.example.org/simple, "
        f"https://deploy:{pw}@pkgs.example.com/simple",
        pw,
    )
    pw = m.url_password()
    plant(
        "url_password",
        "URL, empty user",
        f"r = redis.from_url('redis://:{pw}@cache.internal:6379/0')",
        pw,
    )
    pw = m.url_password()
    plant(
        "url_password",
        "traceback",
        "OperationalError: (psycopg2.OperationalError) connection to server failed\n"
        f"(Background on this error at: postgresql://ml:{pw}@db.internal:5432/experiments)",
        pw,
    )

    bearer = m.chars(48, URLSAFE)
    plant(
        "authorization",
        "headers",
        f"curl -s -H 'Authorization: Bearer {bearer}' https://api.example.com/v1/runs",
        bearer,
    )
    basic = base64.b64encode(f"alice:{m.password()}".encode()).decode()
    plant(
        "authorization",
        "headers, dict",
        f"{{'User-Agent': 'python-requests/2.31', 'Authorization': 'Basic {basic}'}}",
        basic,
    )

    pw = m.password()
    plant("password", "code", f'conn = psycopg2.connect(user="ml", password="{pw}", host="db")', pw)
    pw = m.password()
    plant(
        "password",
        "credential file",
        f"machine api.example.com\n  login alice\n  password {pw}",
        pw,
    )
    pw = m.password()
    plant("password", ".env file", f"DB_USER=ml\nDB_PASSWORD={pw}\nDB_HOST=db.internal", pw)
    pw = m.password()
    plant("password", "JSON", json.dumps({"username": "ml", "password": pw}), pw)

    tok = m.hex_token(48)
    plant(
        "token",
        "URL",
        f"[I 12:00:00 ServerApp] http://127.0.0.1:8888/lab?token={tok}",
        tok,
    )
    wandb = m.hex_token(40)
    plant("token", "%env", f"%env WANDB_API_KEY={wandb}", wandb)
    secret = m.chars(32)
    plant("token", "config file", f"[app]\nsecret_key = {secret}\ndebug = false", secret)

    sig = m.hex_token(64)
    plant(
        "signed_url",
        "URL",
        "https://bucket.s3.amazonaws.com/model.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Date=20261201T000000Z&X-Amz-Expires=3600&X-Amz-Signature={sig}",
        sig,
    )
    kaggle = m.hex_token(32)
    plant(
        "kaggle_key",
        "credential file",
        f'!cat ~/.kaggle/kaggle.json\n{{"username":"alice","key":"{kaggle}"}}',
        kaggle,
    )
    kaggle = m.hex_token(32)
    plant(
        "kaggle_key",
        "JSON",
        json.dumps({"username": "alice", "key": kaggle}, indent=2),
        kaggle,
    )
    sig = m.hex_token(64)
    plant(
        "signed_url",
        "traceback",
        "HTTPError: 403 Forbidden for url: https://storage.example.com/bucket/ckpt.pt"
        f"?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Expires=900&X-Goog-Signature={sig}",
        sig,
    )
    for context, before, after in (
        ("credential file", "!cat /root/.local/share/jupyter/runtime/kernel-1.json\n", ""),
        ("%connect_info", "", "\n\nPaste the above JSON into a file, and connect with:"),
    ):
        kernel_key = str(uuid.UUID(bytes=m.rng.randbytes(16)))
        connection = {
            "shell_port": 50001,
            "ip": "127.0.0.1",
            "key": kernel_key,
            "signature_scheme": "hmac-sha256",
            "kernel_name": "python3",
        }
        plant(
            "jupyter_kernel_key",
            context,
            before + json.dumps(connection, indent=1) + after,
            kernel_key,
        )
    return out


def _png(seed: int) -> bytes:
    rng = random.Random(seed)
    raw = bytes(rng.randrange(256) for _ in range(3000))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
        )

    ihdr = (40).to_bytes(4, "big") + (25).to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def clean_corpus() -> list[tuple[str, str]]:
    """(context, text): what notebooks print every day, with nothing secret in it."""
    rng = random.Random(61)
    png = base64.b64encode(_png(1)).decode()
    sha = [hashlib.sha256(bytes([i])).hexdigest() for i in range(6)]
    git = [hashlib.sha1(bytes([i])).hexdigest() for i in range(6)]
    uuids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(6)]
    return [
        ("base64 PNG in a notebook's JSON", json.dumps({"output_type": "display_data",
         "data": {"image/png": png, "text/plain": "<Figure size 640x480 with 1 Axes>"}})),
        ("base64 PNG as a data URI", f'<img src="data:image/png;base64,{png}"/>'),
        ("wrapped base64", "\n".join(png[i : i + 76] for i in range(0, 760, 76))),
        ("pip hashes", "\n".join(f"torch==2.1.{i} \\\n    --hash=sha256:{h}" for i, h in enumerate(sha))),
        ("pip install log", "Collecting transformers==4.36.2\n  Downloading transformers-4.36.2-py3-none-any.whl"
         " (8.2 MB)\nSuccessfully installed tokenizers-0.15.0 transformers-4.36.2 safetensors-0.4.1"),
        ("git log", "\n".join(f"commit {g}\nAuthor: Dev <dev>\n    fix tokenizer padding" for g in git)),
        ("UUIDs", "\n".join(f"run {u} finished; artifact {uuids[-1]}" for u in uuids)),
        ("hex digests", f"md5 {hashlib.md5(b'x').hexdigest()}  sha1 {git[0]}  sha256 {sha[0]}"),
        ("tokenizer code", "tokenizer = AutoTokenizer.from_pretrained('bert-base-uncased')\n"
         "tokenizer.pad_token = tokenizer.eos_token\ntokens = tokenizer(text, max_length=512)\n"
         "special = {'pad_token': '[PAD]', 'bos_token': '<s>', 'eos_token': '</s>'}\n"
         "model.config.pad_token_id = tokenizer.pad_token_id\nnum_tokens = len(tokens)"),
        ("tokenizer output", "{'input_ids': tensor([[101, 7592, 102]]), 'token_type_ids': "
         "tensor([[0, 0, 0]]), 'attention_mask': tensor([[1, 1, 1]])}"),
        ("credential-shaped code", "password = getpass.getpass('Password: ')\n"
         "api_key = os.environ['OPENAI_API_KEY']\ntoken = None\nsecret = os.getenv('APP_SECRET')\n"
         "def login(user: str, password: str) -> bool:\n    return check(user, password=password)\n"
         "headers = {'Authorization': f'Bearer {token}'}\nHF_TOKEN = os.environ.get('HF_TOKEN')"),
        ("HF config", json.dumps({"architectures": ["GPT2LMHeadModel"], "max_tokens": 1024,
         "tokenizer_class": "GPT2Tokenizer", "vocab_size": 50257, "bos_token_id": 50256})),
        ("training log", "\n".join(f"Epoch {e}: 100%|██████████| 500/500 [00:31<00:00, 15.9it/s,"
         f" loss=0.{rng.randrange(1000):03d}]" for e in range(5))),
        ("traceback", 'Traceback (most recent call last):\n  File "/usr/lib/python3.10/site-packages/'
         'torch/nn/modules/module.py", line 1501, in _call_impl\n    return forward_call(*args)\n'
         "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"),
        ("DataFrame", "      id  score   label\n0  a1b2c3  0.913  positive\n1  d4e5f6  0.127  negative"),
        ("S3 URL, unsigned", "s3://datasets-bucket/imagenet/train-00001-of-01024.tar"),
        ("prose", "Enter your password:\nThe token budget is 4096 tokens. Keep your API key secret!"),
        ("IPU compile", "Graph compilation: 100%|██████████| 100/100 [01:05<00:00]"),
        ("URL with port", "Serving on http://localhost:8888/lab and https://example.org:8443/docs"),
        ("ruler", "=" * 300 + "\n" + "-" * 300),
    ]  # fmt: skip
