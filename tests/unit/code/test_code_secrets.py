"""secrets_v1: recall on planted secrets of every type, precision on real code (the stdlib).

The planted secrets are generated at test time from a seeded RNG (no secret-shaped literals in
the repository, so push-protection scanners stay quiet).
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections import Counter

import pytest
from code_helpers import STDLIB

from lmdata.filters.secrets import (
    SECRET_TYPES,
    Secrets,
    find_secrets,
    placeholder,
    redact_secrets,
)

UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64url(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _pem(rng: random.Random, label: str) -> str:
    body = base64.b64encode(rng.randbytes(600)).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----"


def make_secret(typ: str, rng: random.Random) -> tuple[str, str]:
    """(the secret value, a line of code/config that contains it)."""
    if typ == "aws_access_key":
        s = rng.choice(["AKIA", "ASIA"]) + _r(rng, UPPER_DIGITS, 16)
        return s, rng.choice([f'AWS_ACCESS_KEY_ID = "{s}"', f"aws_access_key_id={s}", f"key: {s}"])
    if typ == "aws_secret_key":
        s = _r(rng, ALNUM + "/+", 40)
        return s, rng.choice(
            [
                f'aws_secret_access_key = "{s}"',
                f"aws_secret_access_key = {s}",
                f"AWS_SECRET_KEY: '{s}'",
            ]
        )
    if typ == "github_token":
        s = rng.choice(
            [
                rng.choice(["ghp_", "gho_", "ghs_"]) + _r(rng, ALNUM, 36),
                "github_pat_" + _r(rng, ALNUM + "_", 82),
            ]
        )
        return s, rng.choice([f'GITHUB_TOKEN="{s}"', f"headers = {{'Authorization': 'token {s}'}}"])
    if typ == "slack_token":
        s = f"xox{rng.choice('bpa')}-{_r(rng, string.digits, 12)}-{_r(rng, string.digits, 13)}-{_r(rng, ALNUM, 24)}"
        return s, f"slack = Client(token='{s}')"
    if typ == "slack_webhook":
        s = f"https://hooks.slack.com/services/T{_r(rng, UPPER_DIGITS, 8)}/B{_r(rng, UPPER_DIGITS, 8)}/{_r(rng, ALNUM, 24)}"
        return s, f'WEBHOOK = "{s}"'
    if typ == "google_api_key":
        s = "AIza" + _r(rng, ALNUM + "_-", 35)
        return s, rng.choice([f'const apiKey = "{s}";', f"url = base + '?key={s}'"])
    if typ == "stripe_key":
        s = rng.choice(["sk_live_", "sk_test_", "rk_live_"]) + _r(
            rng, ALNUM, 24 + rng.randrange(40)
        )
        return s, f"stripe.api_key = '{s}'"
    if typ == "private_key":
        s = _pem(
            rng,
            rng.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"]),
        )
        return s, rng.choice([s, f'KEY = """{s}"""'])
    if typ == "jwt":
        s = ".".join(
            [
                _b64url({"alg": "HS256", "typ": "JWT"}),
                _b64url({"sub": _r(rng, string.digits, 10), "name": "Jane", "iat": 1516239022}),
                _b64url(rng.randbytes(32)),
            ]
        )
        return s, f"Authorization: Bearer {s}"
    if typ == "password":
        s = _r(rng, ALNUM + "!@#^&*", 8 + rng.randrange(12))
        return s, rng.choice(
            [
                f'password = "{s}"',
                f'"db_password": "{s}",',
                f"PASSWORD='{s}'",
                f"conn(user='u', passwd='{s}')",
                f"$pwd => '{s}'",
            ]
        )
    if typ == "generic_secret":
        s = _r(rng, ALNUM, 16 + rng.randrange(20))
        return s, rng.choice(
            [
                f'api_key = "{s}"',
                f"client_secret: '{s}'",
                f'SECRET_KEY = "{s}"',
                f'"access_token": "{s}"',
            ]
        )
    if typ == "high_entropy":
        while True:
            s = _r(rng, ALNUM, 40)
            if (
                any(c.isdigit() for c in s)
                and any(c.islower() for c in s)
                and any(c.isupper() for c in s)
            ):
                return s, rng.choice([f'signing = "{s}"', f"cfg['salt'] = '{s}'"])
    raise AssertionError(typ)


CONTEXT = [
    "import os\n\n\ndef main():\n    {line}\n    return 0\n",
    "# config\n{line}\n\nDEBUG = True\n",
    "// settings\n{line}\nmodule.exports = {{}};\n",
    "{line}\n",
]
N_PER_TYPE = 25


def planted_corpus(seed: int = 2024):
    rng = random.Random(seed)
    for typ in SECRET_TYPES:
        for _ in range(N_PER_TYPE):
            secret, line = make_secret(typ, rng)
            yield typ, secret, rng.choice(CONTEXT).format(line=line)


def test_recall_per_type_on_planted_secrets():
    found: Counter = Counter()
    total: Counter = Counter()
    for typ, secret, text in planted_corpus():
        total[typ] += 1
        matches = find_secrets(text)
        start = text.index(secret)
        if any(
            m.type == typ and m.start <= start and start + len(secret) <= m.end for m in matches
        ):
            found[typ] += 1
        redacted, counts = redact_secrets(text)
        assert secret not in redacted and placeholder(typ) in redacted, (typ, text)
        assert redact_secrets(redacted)[0] == redacted  # idempotent
        assert find_secrets(redacted) == []
    recall = {t: found[t] / total[t] for t in SECRET_TYPES}
    print("secrets recall:", recall)
    assert recall == {t: 1.0 for t in SECRET_TYPES}


@pytest.mark.parametrize(
    "text",
    [
        "password = getpass.getpass()",
        "if password == 'secret':\n    pass",
        "if pwd != 'hunter22':\n    pass",
        "password = '{password}'",
        "password = '%(password)s'",
        "password = '${DB_PASSWORD}'",
        "password = '********'",
        "password = 'xxxxxxxx'",
        "password = ''",
        'api_key = os.environ["API_KEY"]',
        "digest = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'",
        "uid = '123e4567-e89b-12d3-a456-426614174000'",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "stripe_publishable = 'pk_live_" + "a1B2" * 6 + "'",
        "AKIA1234",  # too short
        "x = 'eyJhbGciOi.notjson.sig'",
        "name = 'abcdefghijklmnopqrstuvwxyzABCDEFGH'",  # no digits: not reported
        "path = '/usr/local/lib/python3.11/site-packages'",
        "msg = 'Your password is too short, use at least 8 characters'",
    ],
)
def test_no_false_positive_on_common_code(text):
    assert find_secrets(text) == [], find_secrets(text)


def test_overlaps_resolve_to_the_specific_type():
    key = "ghp_" + "a1B2c3D4e5" * 3 + "a1B2c3"
    text = f'password = "{key}"\nsecret_key = "{key}"\n'
    assert [m.type for m in find_secrets(text)] == ["github_token", "github_token"]
    aws = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "0123456789"
    assert [m.type for m in find_secrets(f'aws_secret_key = "{aws}"')] == ["aws_secret_key"]


def test_secrets_filter_scores_transform_and_decide():
    f = Secrets()
    key = "AKIA" + "Z" * 16
    text = f"a = '{key}'\nb = '{key}'\npassword = 'correct-horse'\n"
    scores, redacted = f.score_and_transform(text)
    assert scores["secrets_v1.aws_access_key"] == 2.0 and scores["secrets_v1.password"] == 1.0
    assert scores["secrets_v1.total"] == 3.0
    assert set(scores) == set(Secrets.score_keys())
    assert redacted == (
        "a = '<SECRET_AWS_ACCESS_KEY>'\nb = '<SECRET_AWS_ACCESS_KEY>'\npassword = '<SECRET_PASSWORD>'\n"
    )
    assert f.transform(text) == redacted and f.score(text) == scores
    assert f.decide(scores) is None  # redact, do not drop
    assert f.decide(scores, {"max_secrets": 2}) == "secrets_v1:total"
    assert f.score_and_transform("") == (f.score(""), "")


def _stdlib_py_files():
    out = []
    for p in sorted(STDLIB.rglob("*.py")):
        rel = p.relative_to(STDLIB).as_posix()
        if rel.startswith("site-packages/") or "__pycache__" in rel:
            continue
        out.append((rel, p.read_bytes().decode("utf-8", "replace")))
    return out


def test_false_positive_rate_on_the_standard_library():
    files = _stdlib_py_files()
    assert len(files) > 500
    flagged = {}
    for rel, text in files:
        ms = find_secrets(text)
        if ms:
            flagged[rel] = Counter(m.type for m in ms)
    parts = lambda rel: set(rel.split("/")[:-1])  # noqa: E731
    test_dirs = {"test", "tests", "idle_test"}
    non_test = [rel for rel, _ in files if not parts(rel) & test_dirs]
    flagged_non_test = [rel for rel in flagged if not parts(rel) & test_dirs]
    rate = len(flagged) / len(files)
    rate_non_test = len(flagged_non_test) / len(non_test)
    by_type = sum(flagged.values(), Counter())
    print(
        f"stdlib .py files with a detection: {len(flagged)}/{len(files)} = {rate:.4f}; "
        f"outside test dirs {len(flagged_non_test)}/{len(non_test)} = {rate_non_test:.4f}; {dict(by_type)}"
    )
    assert rate <= 0.02
    assert rate_non_test <= 0.005
