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
from keyun.persistence.keyring import MANIFEST, Keyring, refuse_inside

log = logging.getLogger("keyun.gateway")


def default_key_dir(data_dir: Path) -> Path:
    """Beside the data directory, never inside it: a copied data dir or backup reveals nothing."""
    data_dir = data_dir.resolve()
    return data_dir.parent / f"{data_dir.name}-keys"


def open_keyring(key_dir: Path, data_dir: Path) -> Keyring:
    refuse_inside(key_dir, data_dir)
    if (key_dir / MANIFEST).exists():
        return Keyring.open(key_dir)
    log.warning("no keys in %s: creating the station's keys there; back them up apart from the data directory", key_dir)
    return Keyring.init(key_dir)


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
) -> KeyunServer:
    """Owners for `data_dir` (checked and prepared for `shards`) behind a new server; with
    `tls`, it serves TLS from those certificates, else plain text on loopback only.  Keys
    live in `key_dir` (default: beside the data directory), created on first use."""
    layout.prepare(data_dir, shards)
    keyring = open_keyring(key_dir or default_key_dir(data_dir), data_dir)
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
    )
