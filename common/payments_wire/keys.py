"""Keys and ids of the payment providers, and the RSA signatures both sides of a provider use.

A key directory holds, for each provider (wepay, alipay, card), the merchant's RSA key pair
(Keyun signs requests with the private half) and the provider's (Keyun verifies responses and
notifications with the public half), plus WePay's API v3 key: 32 bytes shared by both sides, which
encrypts notification resources with AES-256-GCM.  `merchant.json` says which files are Keyun's,
the merchant ids and the providers' base URLs.

With real providers the provider's private keys are never here: the station puts its merchant
keys, the providers' public keys and merchant.json in the directory.  `keyun sandbox-pay` makes
the whole set for itself on first start, its own private keys included.  Private keys and the API
v3 key are written 0600.  No key ever appears in a repr, a log line or an exception message.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from keyun.common.files import write_atomically

MERCHANT_JSON = "merchant.json"
PROVIDERS = ("wepay", "alipay", "card")
FORMAT = 1
# 2048 bits is what WeChat Pay v3 ("RSA2048"), Alipay RSA2 and UnionPay 5.1 use.
RSA_BITS = 2048
API_V3_KEY_CHARS = 32  # AES-256: WeChat Pay's API v3 key is 32 printable characters, used as bytes
KEY_MODE = 0o600
PUBLIC_MODE = 0o644
DIR_MODE = 0o700

# The sandbox's merchant ids, shaped like the real ones (WeChat Pay mchid, Alipay app_id, UnionPay merId).
SANDBOX_IDS = {
    "wepay": ("1900000109", "wxd678efh567hg6787"),
    "alipay": ("2088000000000001", "2021000000000001"),
    "card": ("777290058110048", "KEYUN-POS"),
}


class KeysError(Exception):
    """A key directory that cannot be used (missing files, unreadable keys).  Never names a key's
    content, only its file."""


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One provider as Keyun talks to it."""

    name: str  # wepay, alipay or card
    base_url: str
    merchant_id: str  # WePay mchid, Alipay pid, UnionPay merId
    app_id: str  # WePay appid, Alipay app_id, the acquirer's terminal group
    merchant_serial_no: str  # names the merchant key to the provider (WePay serial_no, UnionPay certId)
    provider_serial_no: str  # names the provider's key (Wechatpay-Serial)
    merchant_private_key: rsa.RSAPrivateKey = field(repr=False)
    provider_public_key: rsa.RSAPublicKey = field(repr=False)
    api_v3_key: bytes = field(default=b"", repr=False)  # WePay only


@dataclass(frozen=True, slots=True)
class ProviderKeys:
    """Every configured provider, from a key directory's merchant.json."""

    providers: Mapping[str, ProviderConfig]
    sandbox: bool  # the directory was made by keyun sandbox-pay: no real money moves

    @classmethod
    def load(cls, directory: Path) -> ProviderKeys:
        document = read_merchant_json(directory)
        providers = {}
        for name, entry in document["providers"].items():
            if name not in PROVIDERS:
                raise KeysError(f"{directory / MERCHANT_JSON}: unknown provider {name!r}")
            providers[name] = ProviderConfig(
                name=name,
                base_url=entry["base_url"].rstrip("/"),
                merchant_id=entry["merchant_id"],
                app_id=entry["app_id"],
                merchant_serial_no=entry["merchant_serial_no"],
                provider_serial_no=entry["provider_serial_no"],
                merchant_private_key=load_private_key(directory / entry["merchant_private_key"]),
                provider_public_key=load_public_key(directory / entry["provider_public_key"]),
                api_v3_key=read_secret(directory / entry["api_v3_key"]) if entry.get("api_v3_key") else b"",
            )
        return cls(providers, bool(document.get("sandbox")))

    def __getitem__(self, name: str) -> ProviderConfig:
        return self.providers[name]


def read_merchant_json(directory: Path) -> dict:
    path = directory / MERCHANT_JSON
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeysError(f"{path}: missing (keyun sandbox-pay --keys-dir makes one for the sandbox)") from None
    except (OSError, ValueError) as error:
        raise KeysError(f"{path}: unreadable ({type(error).__name__})") from None
    if document.get("format") != FORMAT or not isinstance(document.get("providers"), dict):
        raise KeysError(f"{path}: not a format {FORMAT} merchant file")
    return document


# --- files ------------------------------------------------------------------------------------


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise KeysError(f"{path}: not a readable private key ({type(error).__name__})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeysError(f"{path}: not an RSA key")
    return key


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError, TypeError) as error:
        raise KeysError(f"{path}: not a readable public key ({type(error).__name__})") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeysError(f"{path}: not an RSA key")
    return key


def read_secret(path: Path) -> bytes:
    try:
        secret = path.read_bytes().strip()
    except OSError as error:
        raise KeysError(f"{path}: unreadable ({error.strerror})") from None
    if len(secret) != API_V3_KEY_CHARS:
        raise KeysError(f"{path}: an API v3 key is {API_V3_KEY_CHARS} bytes")
    return secret


def write_private(path: Path, data: bytes) -> None:
    write_atomically(path, data, KEY_MODE)


def write_public(path: Path, data: bytes) -> None:
    write_atomically(path, data, PUBLIC_MODE)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


# --- the sandbox's key set ------------------------------------------------------------------------


def key_files(name: str) -> dict[str, str]:
    """Where a provider's files live, relative to the key directory."""
    files = {
        "merchant_private_key": f"{name}/merchant.key",
        "merchant_public_key": f"{name}/merchant.pub",
        "provider_private_key": f"{name}/provider.key",
        "provider_public_key": f"{name}/provider.pub",
    }
    if name == "wepay":
        files["api_v3_key"] = "wepay/apiv3.key"
    return files


def ensure_sandbox_keys(directory: Path) -> bool:
    """Make the merchant's and the sandbox providers' keys where missing; True if any were made.

    Keys already there are kept, so Keyun and the sandbox keep agreeing across restarts."""
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    directory.chmod(DIR_MODE)  # an existing directory keeps its mode, and mkdir's is filtered by the umask
    made = False
    for name in PROVIDERS:
        (directory / name).mkdir(mode=DIR_MODE, exist_ok=True)
        files = key_files(name)
        for side in ("merchant", "provider"):
            private_path = directory / files[f"{side}_private_key"]
            if private_path.exists():
                continue
            key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
            write_private(private_path, private_pem(key))
            write_public(directory / files[f"{side}_public_key"], public_pem(key.public_key()))
            made = True
        if "api_v3_key" in files and not (directory / files["api_v3_key"]).exists():
            alphabet = string.ascii_letters + string.digits
            write_private(
                directory / files["api_v3_key"],
                "".join(secrets.choice(alphabet) for _ in range(API_V3_KEY_CHARS)).encode(),
            )
            made = True
    return made


def key_serial(public_key: rsa.RSAPublicKey) -> str:
    """A certificate-serial-like name for a key (40 hex digits, as WeChat Pay serials look), derived
    from the key so both sides agree without another file."""
    digest = hashes.Hash(hashes.SHA1())
    digest.update(public_pem(public_key))
    return digest.finalize().hex().upper()


def write_merchant_json(directory: Path, base_urls: Mapping[str, str]) -> Path:
    """Keyun's side of the sandbox's key set: ids, base URLs and which files to read."""
    providers = {}
    for name in PROVIDERS:
        files = key_files(name)
        merchant_id, app_id = SANDBOX_IDS[name]
        entry = {
            "base_url": base_urls[name],
            "merchant_id": merchant_id,
            "app_id": app_id,
            "merchant_serial_no": key_serial(load_public_key(directory / files["merchant_public_key"])),
            "provider_serial_no": key_serial(load_public_key(directory / files["provider_public_key"])),
            "merchant_private_key": files["merchant_private_key"],
            "provider_public_key": files["provider_public_key"],
        }
        if "api_v3_key" in files:
            entry["api_v3_key"] = files["api_v3_key"]
        providers[name] = entry
    document = {
        "format": FORMAT,
        "sandbox": True,
        "note": "keyun sandbox-pay: a sandbox, no real money moves",
        "providers": providers,
    }
    path = directory / MERCHANT_JSON
    write_public(path, (json.dumps(document, indent=2) + "\n").encode())
    return path


# --- signatures ---------------------------------------------------------------------------------


def rsa_sign(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64 RSA-SHA256 with PKCS#1 v1.5 padding: WeChat Pay v3's, Alipay RSA2's and UnionPay's."""
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(public_key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def sorted_params(params: Mapping[str, str], exclude: Iterable[str]) -> str:
    """Alipay's and UnionPay's string to sign: `k=v` of the non-empty parameters, sorted by name,
    joined by `&`, values as they are (not URL-encoded)."""
    skip = set(exclude)
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in skip and params[k] != "")
