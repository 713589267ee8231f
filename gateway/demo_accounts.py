"""The demo station's accounts: one of each role, with passwords everyone knows (README).

Only `keyun serve --demo` and the tests create them.  A production start has no accounts at all:
its first administrators come from the one-time setup token (`Staff/SetUp`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from keyun.engine import accounts as ac
from keyun.engine.permissions import EVERYWHERE, Role
from keyun.engine.reasons import Reason, Rejection

from .account_services import PHONE_CONTEXT, AccountDesk, totp_context

log = logging.getLogger("keyun.demo")

# Known to anyone who reads the README: fine for a demo, which is why production has no defaults.
DEMO_PASSWORD = "Keyun-demo-2026"
# Administrators log in with a TOTP code too; this secret is in the README so the demo can be
# tried with any authenticator app or `keyun totp KEYUNDEMO...`.
DEMO_TOTP_SECRET = "KEYUNDEMOKEYUNDEMOKEYUNDEMOKEYUN"
DEMO_PASSENGER_PHONE = "13800138000"


@dataclass(frozen=True)
class DemoAccount:
    login_name: str
    display_name: str
    roles: tuple[str, ...]
    kind: ac.AccountKind = ac.AccountKind.STAFF


DEMO_ACCOUNTS = (
    DemoAccount("seller", "售票员 Demo", (Role.TICKET_SELLER.value,)),
    DemoAccount("inspector", "检票员 Demo", (Role.GATE_INSPECTOR.value,)),
    DemoAccount("dispatcher", "调度员 Demo", (Role.DISPATCHER.value,)),
    DemoAccount("finance", "财务 Demo", (Role.FINANCE.value,)),
    # A small station's duty manager sells, checks in and dispatches: the tests drive the whole
    # station day as this account.
    DemoAccount(
        "master",
        "站务 Demo",
        (Role.TICKET_SELLER.value, Role.GATE_INSPECTOR.value, Role.DISPATCHER.value, Role.FINANCE.value),
    ),
    DemoAccount("kiosk1", "自助售票机 1", (Role.KIOSK_DEVICE.value,), ac.AccountKind.DEVICE),
    DemoAccount("gate1", "检票闸机 1", (Role.GATE_DEVICE.value,), ac.AccountKind.DEVICE),
    DemoAccount("handheld1", "手持检票机 1", (Role.HANDHELD_DEVICE.value,), ac.AccountKind.DEVICE),
    DemoAccount("sysadmin", "系统管理员 Demo", (Role.SYSTEM_ADMIN.value,)),
    DemoAccount("secadmin", "安全管理员 Demo", (Role.SECURITY_ADMIN.value,)),
    DemoAccount("auditor", "审计管理员 Demo", (Role.AUDIT_ADMIN.value,)),
)
# Created after the demo passenger, so the accounts above keep their ids (A000001...A000012).
LATER_DEMO_ACCOUNTS = (
    # A counter seller works in shifts with paper ticket stock the stock keeper issues (docs/shifts.md).
    DemoAccount("counter1", "窗口售票员 1", (Role.COUNTER_SELLER.value,)),
    DemoAccount("stock", "票据管理员 Demo", (Role.STOCK_KEEPER.value,)),
    # A departure board in the hall (docs/board.md): watches departures, nothing more.
    DemoAccount("board1", "信息发布屏 1", (Role.BOARD_DEVICE.value,), ac.AccountKind.DEVICE),
)
FIRST_DEMO_ACCOUNTS = DEMO_ACCOUNTS
DEMO_ACCOUNTS = FIRST_DEMO_ACCOUNTS + LATER_DEMO_ACCOUNTS
ADMIN_ROLES = {Role.SYSTEM_ADMIN.value, Role.SECURITY_ADMIN.value, Role.AUDIT_ADMIN.value}


async def create_demo_accounts(desk: AccountDesk) -> int:
    """Create the demo accounts that do not exist yet; return how many were created."""
    created = 0
    password_hash = await desk.hash_password(DEMO_PASSWORD)
    keyring = desk.secrets.keyring
    for demo in FIRST_DEMO_ACCOUNTS:
        created += await _create(desk, f"demo-account-{demo.login_name}", _staff(desk, demo, password_hash))
    passenger = ac.NewAccount(
        ac.AccountKind.PASSENGER,
        desk.phone_login_key(DEMO_PASSENGER_PHONE),
        "",
        keyring.encrypt(DEMO_PASSENGER_PHONE, PHONE_CONTEXT),
        desk.seal_display_name("旅客 Demo"),
        password_hash,
        roles=(Role.PASSENGER.value,),
    )
    created += await _create(desk, "demo-account-passenger", passenger)
    for demo in LATER_DEMO_ACCOUNTS:
        created += await _create(desk, f"demo-account-{demo.login_name}", _staff(desk, demo, password_hash))
    if created:
        log.warning(
            "created %d demo accounts (password and TOTP secret in the README): never use --demo for a real station",
            created,
        )
    return created


def _staff(desk: AccountDesk, demo: DemoAccount, password_hash: str) -> ac.NewAccount:
    keyring = desk.secrets.keyring
    totp = keyring.encrypt(DEMO_TOTP_SECRET, totp_context(demo.login_name)) if ADMIN_ROLES & set(demo.roles) else b""
    return ac.NewAccount(
        demo.kind,
        "name:" + demo.login_name,
        demo.login_name,
        b"",
        desk.seal_display_name(demo.display_name),
        password_hash,
        totp,
        demo.roles,
        (EVERYWHERE,),
        (EVERYWHERE,),
    )


async def _create(desk: AccountDesk, request_id: str, new: ac.NewAccount) -> int:
    reply = await desk.accounts.submit(ac.CreateAccount(request_id, new))
    if isinstance(reply, Rejection):
        # Demo accounts exist from an earlier start (the request id was forgotten since).
        assert reply.reason in (Reason.ACCOUNT_EXISTS, Reason.REQUEST_ID_REUSED), reply
        return 0
    return 1
