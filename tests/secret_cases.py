"""The second corpus: what a new user's notebooks leaked before (issue 14), planted in context.

``format_corpus`` plants every token format of secret_formats.py in two contexts; ``named_corpus``
the secrets found by a name, a command line or an encoding; ``personal_corpus`` personal data (the
`redacted` level); ``clean_notebook_text`` what must come through untouched.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid

from secret_corpus import B64, HEX, URLSAFE, Planted, SecretMaker
from secret_formats import CONTEXTS, FORMATS, SECRET_PART


def format_corpus(seed: int = 14) -> list[Planted]:
    m = SecretMaker(seed)
    out = []
    for kind, (make, _) in FORMATS.items():
        for context, frame in CONTEXTS.items():
            token = make(m)
            secret = SECRET_PART.get(kind, lambda t: t)(token)
            out.append(Planted(kind, context, frame(token), (secret,)))
    return out


def near_misses() -> list[tuple[str, str]]:
    """(kind, text): a format's prefix in a text that holds no secret of that kind."""
    return [(kind, f"x = {miss!r}  # {miss}") for kind, (_, miss) in FORMATS.items()]


def luhn_digit(digits: str) -> str:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def card(m: SecretMaker, prefix: str = "4", length: int = 16) -> str:
    body = prefix + m.chars(length - len(prefix) - 1, string.digits)
    return body + luhn_digit(body)


def named_corpus(seed: int = 15) -> list[Planted]:
    m = SecretMaker(seed)
    out: list[Planted] = []

    def plant(kind: str, context: str, text: str, *values: str) -> None:
        out.append(Planted(kind, context, text, values))

    key = m.chars(86, B64) + "=="
    plant(
        "azure_key",
        "connection string",
        "conn = 'DefaultEndpointsProtocol=https;AccountName=mlstore;"
        f"AccountKey={key};EndpointSuffix=core.windows.net'",
        key,
    )
    sas = m.chars(43, B64) + "="
    plant(
        "azure_key",
        "service bus",
        f"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={sas}",
        sas,
    )
    sub = m.chars(32, HEX)
    plant(
        "azure_key",
        "headers",
        f"requests.post(url, headers={{'Ocp-Apim-Subscription-Key': '{sub}'}})",
        sub,
    )
    npm = m.chars(36, URLSAFE)
    plant("npm_token", ".npmrc", f"!cat ~/.npmrc\n//registry.example.org/:_authToken={npm}\n", npm)
    npm = m.chars(40, B64)
    plant("npm_token", ".npmrc, _auth", f"_auth={npm}\nalways-auth=true", npm)
    wandb = m.chars(40, HEX)
    plant("wandb_key", "! cell", f"!wandb login --relogin {wandb}\nwandb: Appending key", wandb)
    wandb = m.chars(40, HEX)
    plant("wandb_key", "code", f'import wandb\nwandb.login(key="{wandb}")', wandb)
    ps = m.chars(30, HEX)
    plant("paperspace_key", "! cell", f"!gradient apiKey {ps}\nHostname set", ps)
    ps = m.chars(30, HEX)
    plant("paperspace_key", "login", f"$ paperspace login --apiKey={ps}", ps)
    kg = m.chars(32, HEX)
    plant("kaggle_key", "key first", json.dumps({"key": kg, "username": "alice"}), kg)
    dapi = "dapi" + m.chars(32, HEX)
    plant(
        "databricks_token",
        "other key name",
        json.dumps({"host": "https://adb-1.azuredatabricks.net", "pat": dapi}),
        dapi,
    )
    sg = f"SG.{m.chars(22, URLSAFE)}.{m.chars(43, URLSAFE)}"
    plant("sendgrid_key", "named, dotted", f"SENDGRID_API_KEY = {sg}", sg)
    fb = m.chars(40)
    plant(
        "signed_url",
        "firebase ?auth=",
        f"requests.get('https://proj.firebaseio.com/users.json?auth={fb}')",
        fb,
    )
    tg = f"{m.chars(10, string.digits)}:AA{m.chars(33, URLSAFE)}"
    plant("telegram_token", "URL path", f"https://api.telegram.org/bot{tg}/sendMessage", tg)

    # passwords on command lines, .env, dicts, .netrc
    for kind, context, template in (
        ("password", "mysql", "!mysql -h db -u root -p{pw} experiments < dump.sql"),
        ("password", "sshpass", "!sshpass -p '{pw}' ssh ml@gpu-box nvidia-smi"),
        ("password", "redis-cli", "!redis-cli -h cache -a {pw} ping"),
        ("password", "curl -u", "!curl -u alice:{pw} https://api.example.com/v1/runs"),
        ("password", "openssl", "!openssl pkcs12 -export -in c.pem -out c.p12 -passout pass:{pw}"),
        ("password", "smbclient", "!smbclient //nas/share -U alice%{pw} -c 'ls'"),
        ("password", "htpasswd", "!htpasswd -bc .htpasswd alice {pw}"),
        ("password", "subprocess", "subprocess.run(['sshpass', '-p', '{pw}', 'scp', 'a', 'b:'])"),
        ("password", ".env DB_PASS", "DB_USER=ml\nDB_PASS={pw}\nDB_NAME=runs"),
        ("password", ".env SMTP_PASS", "SMTP_HOST=mail\nSMTP_PASS={pw}"),
        ("password", "dict pw", "cfg = {{'user': 'ml', 'pw': '{pw}'}}"),
        ("password", ".netrc, password first", "machine api.example.com password {pw} login alice"),
        ("password", ".netrc default", "default\n  login anonymous\n  password {pw}"),
    ):
        pw = m.password()
        plant(kind, context, template.format(pw=pw), pw)

    # cut short and wrapped
    pat = "github_pat_11" + m.chars(20, string.ascii_uppercase + string.digits) + "_" + m.chars(59)
    cut = pat[:47]
    plant("github_fine_grained_token", "pandas, cut", f"   name  token\n0  ci    {cut}...\n", cut)
    ghp = "ghp_" + m.chars(36)
    table = (
        f"┃ name ┃ value                ┃\n│ ci   │ {ghp[:20]} │\n"
        f"│      │ {ghp[20:]}     │\n└──────┴──────────────────────┘"
    )
    plant("github_token", "rich table, wrapped", table, ghp[:20], ghp[20:])
    ant = "sk-ant-api03-" + m.chars(40, URLSAFE)
    plant("anthropic_key", "known prefix, too short for the rule", f"key='{ant[:24]}…'", ant[:24])
    hf = "hf_" + m.chars(34, string.ascii_letters)
    plant("huggingface_token", "cut short", f"token: {hf[:14]}...", hf[:14])

    # base64 that decodes to credentials
    auth = base64.b64encode(f"alice:{m.password()}".encode()).decode()
    docker = json.dumps({"auths": {"registry.example.com": {"auth": auth}}}, indent=1)
    plant("encoded_secret", "docker config.json", docker, auth)
    dockercfg = base64.b64encode(
        json.dumps({"auths": {"r.example.com": {"auth": auth}}}).encode()
    ).decode()
    plant(
        "encoded_secret",
        "kubernetes secret",
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata:\n"
        f"  .dockerconfigjson: {dockercfg}\n",
        dockercfg,
    )
    key_id, secret = m.aws_key_id(), m.aws_secret()
    seed_file = "".join(
        base64.b64encode((k[:2] + "x" + k[2:]).encode()).decode() + "\n" for k in (key_id, secret)
    )
    plant(
        "encoded_secret",
        "the seed's credentials file",
        f"!cat $GCLOGGER_CONFIG/.config\n{seed_file}",
        *seed_file.split(),
    )
    token = base64.b64encode(("ghp_" + m.chars(36)).encode()).decode()
    plant(
        "encoded_secret",
        "kubernetes secret data",
        f"kind: Secret\ndata:\n  github: {token}\n",
        token,
    )

    # PGP armor with headers: the body goes too
    body = "\n".join(m.pem_body(8))
    pgp = (
        f"-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\nComment: ci signing key\n\n"
        f"{body}\n={m.chars(4, B64)}\n-----END PGP PRIVATE KEY BLOCK-----"
    )
    plant(
        "private_key",
        "PGP armor with headers",
        f"!gpg --armor --export-secret-keys ci\n{pgp}",
        body,
    )
    return out  # fmt: skip


def personal_corpus(seed: int = 16) -> list[Planted]:
    m = SecretMaker(seed)
    out: list[Planted] = []

    def plant(kind: str, context: str, text: str, *values: str) -> None:
        out.append(Planted(kind, context, text, values))

    v6 = "2001:db8:" + ":".join(m.chars(4, HEX) for _ in range(6))
    plant("ip_address", "ip addr", f"inet6 {v6}/64 scope global dynamic", v6)
    v6 = "fe80::" + m.chars(4, HEX) + ":" + m.chars(4, HEX)
    plant("ip_address", "ssh log", f"Accepted publickey for ml from {v6}%eth0 port 22", v6)
    plant("ip_address", "pip-shaped line, a network word", "ping 10.20.30.40", "10.20.30.40")
    plant("ip_address", "host=", "client = Client(host=10.1.2.3, port=8786)", "10.1.2.3")
    for context, number in (
        ("+44", "+44 20 7946 0958"),
        ("US", "(415) 555-2671"),
        ("dashed", "call 212-555-0143 today"),
    ):
        value = number.split("call ")[-1].split(" today")[0]
        plant("phone", context, f"contact: {number}", value)
    c = card(m)
    grouped = " ".join(c[i : i + 4] for i in range(0, 16, 4))
    plant("card_number", "grouped", f"df.loc[3, 'card'] = '{grouped}'", grouped)
    c = card(m, "51")
    plant("card_number", "plain", f"{{'customer': 17, 'pan': '{c}'}}", c)
    plant("host", "ec2", "Connected to ip-10-0-3-17.ec2.internal:8888", "ip-10-0-3-17.ec2.internal")
    plant(
        "host",
        "cluster",
        "dask scheduler at tcp://gpu-node-07.cluster.local:8786",
        "gpu-node-07.cluster.local",
    )
    plant("user", "path", "FileNotFoundError: '/home/akowalski/data/train.csv'", "akowalski")
    plant("user", "windows path", "C:\\Users\\mbrandt\\Documents\\nb.ipynb", "mbrandt")
    plant(
        "email",
        "in a sentence",
        "send the report to ops-team@example.org by noon",
        "ops-team@example.org",
    )
    plant(
        "email",
        "with a git remote beside it",
        "Author: Alice <alice@example.com>\nremote: git@github.com:org/repo.git",
        "alice@example.com",
    )
    return out  # fmt: skip


def clean_notebook_text() -> list[tuple[str, str]]:
    """(context, text): what must give no finding at any level."""
    rng = random.Random(14)
    nvidia = [
        ("nvidia-cublas-cu12", "12.1.3.1"),
        ("nvidia-cuda-cupti-cu12", "12.1.105"),
        ("nvidia-cudnn-cu12", "8.9.2.26"),
        ("nvidia-cufft-cu12", "11.0.2.54"),
        ("nvidia-curand-cu12", "10.3.2.106"),
        ("nvidia-cusolver-cu12", "11.4.5.107"),
        ("nvidia-cusparse-cu12", "12.1.0.106"),
        ("nvidia-nccl-cu12", "2.18.1"),
        ("nvidia-nvtx-cu12", "12.1.105"),
        ("onnxruntime", "1.16.3.0"),
        ("tensorrt", "8.6.1.6"),
        ("pywin32", "306.0.0.1"),
        ("certifi", "2024.2.2"),
    ]
    pip_list = (
        "Package                  Version\n------------------------ ----------\n"
        + "\n".join(f"{name:<24} {version}" for name, version in nvidia)
    )
    conda = "\n".join(
        f"{name:<26}{version:<21}h{rng.getrandbits(28):07x}_0    conda-forge"
        for name, version in nvidia
    )
    shas = [hashlib.sha256(bytes([i])).hexdigest() for i in range(3)]
    tensor = (
        "tensor([[ 0.1234, -1.2345,  2.3456],\n        [-0.4567,  1.5678, -2.6789]],"
        " device='cuda:0', grad_fn=<AddmmBackward0>)\n" + repr([rng.random() for _ in range(8)])
    )
    return [
        ("pip list, four-part versions", pip_list),
        ("pip one-liner", "nvidia-cudnn-cu12 8.9.2.26\nnvidia-cublas-cu12 12.1.3.1"),
        ("conda list", conda),
        ("pip install", "Collecting nvidia-cudnn-cu12==8.9.2.26 (from torch==2.1.2)\n  Downloading "
         "nvidia_cudnn_cu12-8.9.2.26-py3-none-manylinux1_x86_64.whl (731.7 MB)\n"
         "Successfully installed nvidia-cudnn-cu12-8.9.2.26 tensorrt-8.6.1.6"),
        ("pip show", "Name: nvidia-cudnn-cu12\nVersion: 8.9.2.26\nSummary: cuDNN runtime libraries"),
        ("git remotes", "origin\tgit@github.com:org/repo.git (fetch)\norigin\tgit@github.com:org/repo.git"
         " (push)\n!git clone git@gitlab.com:team/models.git\nssh://git@github.com/org/repo.git"),
        ("matrix code", "attn = (q@k.transpose(-2, -1)) * scale\ny = x@W.T + b\nz = a@b\n"
         "out = h@self.fc.weight.T\nscores = torch.softmax(q@k.mT, dim=-1)"),
        ("environment dump", "PWD=/root/work\nOLDPWD=/root\nHOME=/root\nSHELL=/bin/bash\n"
         "PATH=/usr/local/bin:/usr/bin\nLANG=C.UTF-8\nTERM=xterm-256color\nPYTHONPATH=/opt/lib"),
        ("%env", "{'PWD': '/root/work', 'JPY_PARENT_PID': '7', 'CUDA_VERSION': '12.1.1'}"),
        ("CORS headers", "Access-Control-Allow-Headers: Content-Type, Authorization, X-Requested-With\n"
         "app.add_middleware(CORSMiddleware, allow_headers=['Authorization', 'Content-Type'])\n"
         "Vary: Origin, Authorization"),
        ("SHAs", "\n".join(f"{s[:40]}  refs/heads/main\nsha256:{s}" for s in shas)),
        ("UUIDs", " ".join(str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(5))),
        ("tensors", tensor),
        ("slices and times", "x[1::2], y[::-1], a[10::20]\n12:30:45 epoch 3 12:31:02\n"
         "2026-12-02T12:30:45.123456+00:00"),
        ("numbers", "step 1234567890123456 loss 0.1234\nids: 4000000000000001 1699999999999999999"),
        ("python", "try:\n    pass\nexcept Exception:\n    pass\nbypass = compass = 3\n"
         "pw = getpass.getpass()\npass_rate: float = 0.9"),
        ("hub calls", "hf_hub_download(repo_id='gpt2', filename='config.json')\n"
         "from huggingface_hub import hf_api\nsk-learn\nnpm_install = True"),
        ("local paths", "/usr/local/lib/python3.11\n~/.local/share/jupyter\nfile:///tmp/x.local.txt"),
    ]  # fmt: skip
