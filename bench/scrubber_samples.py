"""Samples for the scrubber benchmark: a clean transcript, a dense one, and hostile near misses.

Clean: what notebooks print every day (pip and conda lists with four-part versions, progress bars,
tracebacks, code with ``@``, tables, JSON, environment dumps, CORS headers, git remotes, UUIDs).
Dense: the same, with a secret or a piece of personal data in every other block, of many kinds.
All made from seeded generators: nothing here is, or was, a live credential.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable

MB = 1_000_000
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
URLSAFE = ALNUM + "-_"


def fill(unit: str, size: int = MB) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _blocks(rng: random.Random, make: Callable[[int, str], str]) -> list[Callable[[], str]]:
    def versions() -> str:
        names = ["nvidia-cudnn-cu12", "nvidia-cublas-cu12", "tensorrt", "onnxruntime", "torch"]
        return "\n".join(
            f"{n:<26}{rng.randrange(20)}.{rng.randrange(10)}.{rng.randrange(10)}.{rng.randrange(200)}"
            for n in names
        ) + "\n"  # fmt: skip

    return [
        lambda: (
            f"Collecting torch==2.1.{rng.randrange(9)}\n  Downloading torch-2.1.0-cp310-cp310-"
            f"manylinux1_x86_64.whl (670.2 MB)\n     --hash=sha256:{make(64, HEX)}\n"
        ),
        versions,
        lambda: (
            "".join(
                f"\rEpoch {rng.randrange(90)}: {p:3d}%|{'█' * (p // 10):<10}| {p * 5}/500 "
                f"[00:{p // 4:02d}<00:{25 - p // 4:02d}, 15.9it/s, loss=0.{rng.randrange(999):03d}]"
                for p in range(0, 101, 10)
            )
            + "\n"
        ),
        lambda: (
            'Traceback (most recent call last):\n  File "/usr/local/lib/python3.10/site-packages/'
            f'transformers/models/bert/modeling_bert.py", line {rng.randrange(900)}, in forward\n'
            "    return self._call_impl(*args, **kwargs)\nRuntimeError: CUDA out of memory.\n"
        ),
        lambda: (
            "tokenizer = AutoTokenizer.from_pretrained('bert-base-uncased')\n"
            "attn = (q@k.transpose(-2, -1)) * scale; y = x@W.T\n"
            "enc = tokenizer(texts, max_length=512, truncation=True, padding=True)\n"
        ),
        lambda: (
            "\n".join(
                f"{i:>6}  {rng.random():.6f}  {rng.random():.6f}  {make(8, ALNUM)}  "
                f"{rng.randrange(10**6)}"
                for i in range(8)
            )
            + "\n"
        ),
        lambda: (
            json.dumps(
                {
                    "run": f"{rng.getrandbits(128):032x}",
                    "commit": make(40, HEX),
                    "metrics": {"loss": rng.random(), "acc": rng.random()},
                    "max_tokens": 256,
                }
            )
            + "\n"
        ),
        lambda: "PWD=/root/work\nHOME=/root\nLANG=C.UTF-8\nPATH=/usr/local/bin:/usr/bin\n",
        lambda: "Access-Control-Allow-Headers: Content-Type, Authorization, X-Requested-With\n",
        lambda: "origin\tgit@github.com:org/repo.git (fetch)\ntensor([[ 0.1234, -1.2345]])\n",
        lambda: (
            f"INFO: step {rng.randrange(10**5)} took {rng.random():.3f}s on /data/"
            f"shard-{rng.randrange(1024):05d}.tar\n"
        ),
    ]


def _secrets(rng: random.Random, make: Callable[[int, str], str]) -> list[Callable[[], str]]:
    def digits(n: int) -> str:
        return make(n, string.digits)

    return [
        lambda: f"%env HF_TOKEN=hf_{make(34, string.ascii_letters)}\n",
        lambda: f"origin https://ghp_{make(36, ALNUM)}@github.com/org/repo.git (fetch)\n",
        lambda: f"GITHUB_TOKEN=github_pat_11{make(20, ALNUM)}_{make(59, ALNUM)}\n",
        lambda: f"client = OpenAI(api_key='sk-proj-{make(156, URLSAFE)}')\n",
        lambda: f"AWS_ACCESS_KEY_ID=AKIA{make(16, string.ascii_uppercase)}\n"
        f"AWS_SECRET_ACCESS_KEY={make(40, ALNUM + '+/')}\n",
        lambda: f"conn = 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey={make(86, ALNUM)}=='\n",
        lambda: f"!mysql -h db -u root -p{make(12, ALNUM)} runs < dump.sql\n",
        lambda: f"!curl -u alice:{make(14, ALNUM)} https://api.example.com/v1\n",
        lambda: f"requests.post('https://api.telegram.org/bot{digits(10)}:AA{make(33, URLSAFE)}/send')\n",
        lambda: f"SENDGRID_API_KEY = SG.{make(22, URLSAFE)}.{make(43, URLSAFE)}\n",
        lambda: f"db = 'postgresql://ml:{make(16, ALNUM)}@db.internal:5432/runs'\n",
        lambda: json.dumps({"auths": {"r.example.com": {"auth": base64.b64encode(
            f"ci:{make(16, ALNUM)}".encode()).decode()}}}) + "\n",
        lambda: f'{{"key": "{make(32, HEX)}", "username": "alice"}}\n',
        lambda: f"Authorization: Bearer {make(48, URLSAFE)}\n",
        lambda: f"mail alice.{make(5, string.ascii_lowercase)}@example.com from 10.{rng.randrange(255)}.0.7\n",
        lambda: f"inet6 2001:db8:{make(4, HEX)}:{make(4, HEX)}::{make(4, HEX)}/64\n",
        lambda: f"call +44 20 7946 {digits(4)} or (415) 555-{digits(4)}\n",
        lambda: f"!wandb login {make(40, HEX)}\n",
        lambda: f"token = 'dapi{make(32, HEX)}'; hook = 'https://hooks.slack.com/services/"
        f"T{make(8, string.ascii_uppercase)}/B{make(10, string.ascii_uppercase)}/{make(24, ALNUM)}'\n",
    ]  # fmt: skip


def transcript(size: int = 4 * MB, dense: bool = False, seed: int = 7) -> str:
    """About ``size`` characters of notebook output; ``dense``: a secret every other block."""
    rng = random.Random(seed)

    def make(n: int, alphabet: str) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    blocks, secrets = _blocks(rng, make), _secrets(rng, make)
    parts: list[str] = []
    total = 0
    while total < size:
        block = rng.choice(blocks)()
        if dense and rng.random() < 0.5:
            block += rng.choice(secrets)()
        parts.append(block)
        total += len(block)
    return "".join(parts)[:size]


def hostile_inputs() -> dict[str, str]:
    rng = random.Random(1)
    b64 = base64.b64encode(rng.randbytes(MB)).decode()[:MB]
    wrapped = "\n".join(b64[i : i + 64] for i in range(0, MB, 64))[:MB]
    user_pass = base64.b64encode(b"alice:hunter2hunter2").decode()
    return {
        "PEM headers, never an END": fill("-----BEGIN RSA PRIVATE KEY-----\n"),
        "a PEM header, then 1 MB of base64 lines": "-----BEGIN PRIVATE KEY-----\n" + wrapped,
        "PGP armor headers, no body": fill("-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: 1\n"),
        "`token=` repeated": fill("token="),
        '`password = "` and no closing quote': fill('password = "aaaaaaaa'),
        "one 1 MB base64 line": b64,
        "1 MB of base64, 64-character lines": wrapped,
        "base64 of `user:password`, repeated": fill(user_pass + " "),
        "`eyJ` repeated (JWT starts)": fill("eyJ"),
        "JWT-like parts, no third": fill("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0"),
        "`AKIA` + 15 characters": fill("AKIAABCDEFGHIJKLMNO "),
        "`https://user:pass` without `@`": fill("https://user:pass"),
        "e-mail local parts without a domain": fill("a" * 63 + "@"),
        "`@` and dotted names (matrix code)": fill("q@k.transpose"),
        "`Authorization: Bearer` repeated": fill("Authorization: Bearer "),
        "IP-like dotted numbers": fill("1.2.3."),
        "IPv6-like colon groups": fill("1:2:3:"),
        "card-like digit groups": fill("4111 1111 "),
        "phone-like `+1 (`": fill("+1 (415) "),
        "`.internal` without a host": fill(".internal."),
        "`Q~` repeated (Azure secrets)": fill("abc1Q~"),
        "digits then `:AA` (Telegram)": fill("123456789:AA"),
        "`sk-` one character short": fill("sk-" + "a1" * 9 + "a "),
        "`hf_` repeated": fill("hf_"),
        "`ghp_` at the end of every line (wrapping)": fill("│ ghp_abc123DEF456 │\n"),
        "`--password` repeated": fill("--password "),
        "`mysql -p` repeated": fill("mysql -p"),
        "`machine` entries without `password`": fill("machine h login u\n"),
        "escaped line breaks `\\n`": fill("\\nhf_\\n"),
        "1 MB of one letter": fill("a"),
        "1 MB of blanks": fill(" \n\t"),
    }
