"""The server's assembly: the owners of a data directory, the station's keys and metrics, wired into the gateway."""

from __future__ import annotations

import logging
from pathlib import Path

from keyun.common.clock import SYSTEM_CLOCK, Clock
from keyun.engine.accounts import AccountRules
from keyun.engine.policy import Policy
from keyun.gateway import credentials
from keyun.gateway.connection_limits import DEFAULT_CONNECTION_LIMITS, ConnectionLimits
from keyun.gateway.metrics import GatewayMetrics
from keyun.gateway.owners import Owners
from keyun.gateway.server import KeyunServer
from keyun.gateway.shared_answers import SEARCH_CACHE_S
from keyun.gateway.tls import TlsConfig
from keyun.persistence import layout
from keyun.persistence.credential_keys import CredentialKeys
from keyun.persistence.keyring import MANIFEST, Keyring, KeyringError, refuse_inside
from keyun.persistence.layout import default_key_dir

log = logging.getLogger("keyun.gateway")

__all__ = ["check_keys", "create_server", "default_key_dir", "open_keyring"]


def check_keys(data_dir: Path, key_dir: Path) -> Keyring | None:
    """The keyring in `key_dir` if the data directory may use it (None: there is none yet, and the
    data directory holds nothing encrypted, so new keys may be made).  KeyringError, naming the fix,
    for a data directory that holds data without its keys: new keys would make every account,
    password check and personal field of it unusable."""
    refuse_inside(key_dir, data_dir)
    recorded = layout.recorded_keys(data_dir)
    if not (key_dir / MANIFEST).exists():
        if recorded is None and not layout.holds_data(data_dir):
            return None
        made_with = f" (they were in {recorded['dir']})" if recorded else ""
        raise KeyringError(
            f"{data_dir} holds encrypted data but {key_dir} has no keys: start with --key-dir and the key directory "
            f"this data was made with{made_with}, or restore that directory from your key backup first"
        )
    keyring = Keyring.open(key_dir)
    if recorded is not None and keyring.verify_key_fingerprint() != recorded["fingerprint"]:
        raise KeyringError(
            f"the keys in {key_dir} are not the ones {data_dir} is encrypted with: start with --key-dir and the key "
            f"directory this data was made with (they were in {recorded['dir']})"
        )
    return keyring


def open_keyring(key_dir: Path, data_dir: Path) -> Keyring:
    """The data directory's keys (made on its first start), recorded in its keyun.json from then on."""
    keyring = check_keys(data_dir, key_dir)
    if keyring is None:
        log.warning(
            "no keys in %s: creating the station's keys there; back them up apart from the data directory", key_dir
        )
        keyring = Keyring.init(key_dir)
    layout.record_keys(data_dir, keyring.verify_key_fingerprint(), key_dir)
    return keyring


def create_server(
    instance: str,
    data_dir: Path,
    shards: int,
    policy: Policy | None = None,
    check_invariants: bool = False,
    detached: bool = False,
    utc_offset_min: int = 8 * 60,
    owner_resource: str | None = None,
    tls: TlsConfig | None = None,
    key_dir: Path | None = None,
    password_params: credentials.HashParams = credentials.PRODUCTION_PARAMS,
    demo_accounts: bool = False,
    account_rules: AccountRules | None = None,
    payments_dir: Path | None = None,
    search_cache_s: float = SEARCH_CACHE_S,
    connection_limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
    clock: Clock = SYSTEM_CLOCK,
    demo_network: bool = False,
    sms_dir: Path | None = None,
    reports: bool = False,
    funnel_sample: float = 1.0,
) -> KeyunServer:
    """Owners for `data_dir` (checked and prepared for `shards`) behind a new server; with
    `tls`, it serves TLS from those certificates, else plain text on loopback only.  Keys
    live in `key_dir` (default: beside the data directory), created on first use; a data directory
    holding data without its keys is refused (check_keys).  With `reports`, the report projector
    runs beside the owners (docs/reporting.md; `keyun serve` starts it unless --no-reports)."""
    layout.prepare(data_dir, shards)
    keyring = open_keyring(key_dir or default_key_dir(data_dir), data_dir)
    # Boarding-credential keys, apart from the token-signing key; made on the first start with them.
    credential_keys = CredentialKeys.open_or_create(keyring.key_dir)
    metrics = GatewayMetrics()
    owners = Owners.start(
        instance,
        data_dir,
        shards,
        policy or Policy(),
        account_rules or AccountRules(),
        check_invariants,
        detached,
        metrics,
        owner_resource,
        clock,
        keyring.key_dir if reports else None,
    )
    return KeyunServer(
        owners,
        metrics,
        keyring,
        utc_offset_min,
        tls,
        password_params,
        demo_accounts,
        payments_dir,
        search_cache_s,
        connection_limits,
        clock,
        demo_network,
        credential_keys,
        policy,
        account_rules=account_rules,
        sms_dir=sms_dir,
        funnel_sample=funnel_sample,
    )
