"""gRPC servicers for accounts, staff and the audit log.

The gateway is where secrets are handled, so the owners never see them: passwords are hashed
here (argon2id, in a worker thread so the event loop keeps serving), personal data is encrypted
here with the station's keyring and masked in every reply, tokens are signed and checked here.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import grpc
from google.protobuf import timestamp_pb2
from prometheus_client import Counter

from keyun.engine import accounts as ac
from keyun.engine import identity
from keyun.engine import notices as nt
from keyun.engine.audit import OK, AuditRecord
from keyun.engine.events import Holder
from keyun.engine.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from keyun.engine.permissions import Role
from keyun.engine.reasons import Reason, Rejected, Rejection, at_path, element, invalid, reject
from keyun.v1 import accounts_pb2, accounts_pb2_grpc, audit_pb2, audit_pb2_grpc, common_pb2, staff_pb2, staff_pb2_grpc

from . import convert, credentials, walk_in
from .auth import Auth, Principal, caller
from .errors import Refused, abort, note_audit, owner_errors, recorded_by_owner, with_audit_record
from .owners import Batcher, call_owner

PHONE_CONTEXT = "account.phone"
SMS_PHONE_CONTEXT = "sms.phone"
SMS_CODE_CONTEXT = "sms.code"
SMS_CLIENT_CONTEXT = "sms.client"
SMS_CODE = re.compile(r"[0-9]{6}")
PURPOSE_OF = {
    accounts_pb2.SMS_CODE_PURPOSE_REGISTER: nt.CodePurpose.REGISTER,
    accounts_pb2.SMS_CODE_PURPOSE_RESET_PASSWORD: nt.CodePurpose.RESET_PASSWORD,
}
# Login and Refresh answer with the same fields in messages of their own.
Tokens = TypeVar("Tokens", accounts_pb2.LoginResponse, accounts_pb2.RefreshResponse)
# Like the phone, a display name is encrypted before the account id exists, so its context names no account.
DISPLAY_NAME_CONTEXT = "account.display-name"
ADMIN_KINDS = {Role.SYSTEM_ADMIN.value, Role.SECURITY_ADMIN.value, Role.AUDIT_ADMIN.value}
# Why personal data was read is kept in the audit record; a sentence, not an essay.
MAX_PURPOSE_CHARS = 200

KIND_TO_PROTO = {
    ac.AccountKind.PASSENGER: accounts_pb2.ACCOUNT_KIND_PASSENGER,
    ac.AccountKind.STAFF: accounts_pb2.ACCOUNT_KIND_STAFF,
    ac.AccountKind.DEVICE: accounts_pb2.ACCOUNT_KIND_DEVICE,
}
DOCUMENT_TO_PROTO = {kind.name: getattr(common_pb2, f"DOCUMENT_TYPE_{kind.name}") for kind in identity.DocumentType}


def timestamp(ms: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp


def totp_context(account_id_or_login: str) -> str:
    return f"account.totp:{account_id_or_login}"


@dataclass
class Secrets:
    """What the account services need besides the owner: keys, hashing, tokens."""

    keyring: credentials.StationKeys
    passwords: credentials.PasswordHasher
    signer: credentials.TokenSigner


class AccountDesk:
    """Shared by the three services: the accounts owner, secrets, and the audit trail."""

    def __init__(self, accounts: Batcher, secrets_: Secrets, auth: Auth, password_checks: Counter | None = None):
        """`password_checks`: counts the argon2id verifies of logins, by whether the account is
        known, so an operator (and a test) can see that lock-out bounds them.  Tokens, back-off and
        TOTP codes go by `auth`'s clock."""
        self.accounts = accounts
        self.secrets = secrets_
        self.auth = auth
        self.password_checks = password_checks
        # The keyed digest of a holder's document that tickets carry for gates (gateway.etickets.Issuer);
        # the server sets it.
        self.document_digest: Callable[[str, str], bytes] | None = None
        # Notices and SMS codes (gateway/notices.py NoticeDesk); the server sets it.  Its provider
        # is None when the station has no SMS provider: then Register needs no code.
        self.notices: Any = None

    @property
    def sms_enabled(self) -> bool:
        return self.notices is not None and self.notices.provider is not None

    def sms_phone_index(self, phone: str) -> str:
        return self.secrets.keyring.blind_index(phone, SMS_PHONE_CONTEXT).hex()[:32]

    def sms_code_hash(self, purpose: nt.CodePurpose, phone: str, code: str) -> bytes:
        """Codes are kept only as this keyed digest, bound to their purpose and number."""
        return self.secrets.keyring.blind_index(f"{purpose.value}\x1f{phone}\x1f{code}", SMS_CODE_CONTEXT)

    async def use_sms_code(self, context, purpose: nt.CodePurpose, phone: str, code: str) -> None:
        """Spend the number's code of this purpose, or abort with why not."""
        if not code:
            await abort(
                context,
                reject(Reason.MISSING_FIELD, "sms_code is required: ask for one (RequestSmsCode)", field="sms_code"),
            )
        await check_sms_code(context, code)
        await self.ask(
            context,
            nt.UseSmsCode(purpose, self.sms_phone_index(phone), self.sms_code_hash(purpose, phone, code)),
            audited=True,
        )

    def count_password_check(self, account: str) -> None:
        if self.password_checks is not None:
            self.password_checks.labels(account=account).inc()

    async def ask(
        self, context: grpc.aio.ServicerContext, item: Any, audited: bool = False, from_reply: bool = False
    ) -> Any:
        """The owner's reply; abort the call on a rejection.  `audited`: the call's audit record
        goes along, and the owner journals it with the call (engine/outbox.py), for handlers whose
        call is settled by this owner call (`from_reply`: the owner completes the record from its
        reply, engine.accounts.complete_record)."""
        note = None
        if audited:
            item, note = with_audit_record(item, from_reply)
        async with owner_errors(context):
            reply = await self.accounts.submit(item)
            recorded_by_owner(note, reply)
        if isinstance(reply, Rejection):
            await abort(context, reply)
        return reply

    async def build(self, context: grpc.aio.ServicerContext, make, within: str = ""):
        """`make()`, or abort with its rejection; `within`: the request's message holding the
        fields checked (`system_admin`), so the refusal names the field's path."""
        try:
            return make()
        except Rejected as rejected:
            await abort(context, nested(rejected.rejection, within))

    async def hash_password(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(None, self.secrets.passwords.hash_password, password)

    async def password_matches(self, stored: str, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(
            None, self.secrets.passwords.verify_password, stored, password
        )

    def phone_login_key(self, phone: str) -> str:
        return "phone:" + self.secrets.keyring.blind_index(phone, PHONE_CONTEXT).hex()

    def login_key(self, login_name: str) -> str:
        """Staff and devices log in by name, passengers by mobile number."""
        if login_name[:1].isdigit() or login_name.startswith("+"):
            return self.phone_login_key(identity.normalize_phone(login_name))
        ac.check_login_name(login_name)
        return "name:" + login_name

    def seal_display_name(self, text: str) -> bytes:
        """A display name as the owner stores it: encrypted, or b"" for none."""
        return self.secrets.keyring.encrypt(text, DISPLAY_NAME_CONTEXT) if text else b""

    def display_name(self, stored: bytes | str) -> str:
        """A stored display name in the clear: decrypted, or as it is when it was stored as text
        (before display names were encrypted, until `seal_display_names` replaced it)."""
        if isinstance(stored, str):
            return stored
        return self.secrets.keyring.decrypt(stored, DISPLAY_NAME_CONTEXT) if stored else ""

    def account(self, view: ac.AccountView, viewer: str = "") -> accounts_pb2.Account:
        """An account for a reply: its personal data masked, except its display name when the
        `viewer` (an account id) is the account itself."""
        login = view.login_name
        if view.kind is ac.AccountKind.PASSENGER and view.phone_cipher:
            login = identity.mask_phone(self.secrets.keyring.decrypt(view.phone_cipher, PHONE_CONTEXT))
        display_name = self.display_name(view.display_name_cipher)
        if viewer != view.account_id:
            display_name = identity.mask_name(display_name)
        return accounts_pb2.Account(
            account_id=view.account_id,
            kind=KIND_TO_PROTO[view.kind],
            login_name=login,
            display_name=display_name,
            roles=view.roles,
            stations=view.stations,
            operators=view.operators,
            disabled=view.disabled,
            created_at=timestamp(view.created_at_ms),
            second_factor=view.second_factor,
            cash_acceptor=view.cash_acceptor,
        )

    async def holders(self, account_id: str, passenger_ids: tuple[str, ...]) -> tuple[Holder, ...] | Rejection:
        """The named frequent passengers of an account as ticket holders, masked for printing."""
        listed = await self.accounts.submit(ac.ListPassengers(account_id))
        if isinstance(listed, Rejection):
            return listed
        records = {p.passenger_id: p for p in listed.passengers}
        holders = []
        for index, passenger_id in enumerate(passenger_ids):
            record = records.get(passenger_id)
            if record is None:
                return reject(
                    Reason.UNKNOWN_PASSENGER,
                    f"no passenger {passenger_id} on this account's list",
                    field=element("passenger_ids", index),
                )
            keyring = self.secrets.keyring
            name = keyring.decrypt(record.name_cipher, passenger_context("name", account_id))
            number = keyring.decrypt(record.document_cipher, passenger_context("document", account_id))
            digest = self.document_digest(record.document_type, number) if self.document_digest else b""
            holders.append(
                Holder(
                    account_id,
                    passenger_id,
                    identity.mask_name(name),
                    record.document_type,
                    identity.mask_document(number),
                    # The document's blind index: the trip owner holds it to one live ticket
                    # per trip, whichever channel sold it (engine.decide._document_refusal).
                    record.document_index,
                    # ...and the phone's, which staff find the passenger's tickets by.
                    phone_index=self._phone_index(record.phone_cipher, account_id),
                    document_digest=digest,
                )
            )
        return tuple(holders)

    def _phone_index(self, phone_cipher: bytes, account_id: str) -> bytes:
        if not phone_cipher:
            return b""
        phone = self.secrets.keyring.decrypt(phone_cipher, passenger_context("phone", account_id))
        return walk_in.phone_index(self.secrets.keyring, phone)

    def passenger(self, account_id: str, record: ac.PassengerRecord, unmasked: bool = False) -> accounts_pb2.Passenger:
        keyring = self.secrets.keyring
        name = keyring.decrypt(record.name_cipher, passenger_context("name", account_id))
        number = keyring.decrypt(record.document_cipher, passenger_context("document", account_id))
        phone = (
            keyring.decrypt(record.phone_cipher, passenger_context("phone", account_id)) if record.phone_cipher else ""
        )
        if not unmasked:
            name, number, phone = (
                identity.mask_name(name),
                identity.mask_document(number),
                identity.mask_phone(phone) if phone else "",
            )
        return accounts_pb2.Passenger(
            passenger_id=record.passenger_id,
            name=name,
            document_type=DOCUMENT_TO_PROTO[record.document_type],
            document_number=number,
            phone=phone,
        )

    def fingerprint(self, *parts: str) -> bytes:
        """A keyed digest of a request's plain fields: retries match by it (engine.accounts.same_request).

        Never a password: fingerprints are journaled, and a keyed digest would let whoever got the
        keys and the data test guesses far faster than argon2id allows.  Passwords of a retry are
        checked against the first request's stored hash instead (`recall`)."""
        return self.secrets.keyring.blind_index("\x1f".join(parts), "request.fingerprint")

    async def recall(
        self, context, request_id: str, fingerprint: bytes, password: str, stored_hash: Callable[[Any], str]
    ) -> Any | None:
        """The first answer to a retried request, or None if this request id is new.  The retry's
        password must match the hash the first request stored, or it is another request."""
        remembered = await self.ask(context, ac.Recall(request_id, fingerprint))
        if isinstance(remembered, ac.NotRemembered):
            return None
        if not await self.password_matches(stored_hash(remembered.command), password):
            await abort(
                context,
                reject(
                    Reason.REQUEST_ID_REUSED,
                    f"request_id {request_id} was used for a different request",
                    field="request_id",
                ),
            )
        if isinstance(remembered.reply, Rejection):
            await abort(context, remembered.reply)
        return remembered.reply

    def derived_secret(self, purpose: str, request_id: str, login_name: str) -> bytes:
        """A secret generated for a request, the same on every retry of it (so a retry's answer
        shows the secret that was stored), and unguessable without the station's index key."""
        return self.secrets.keyring.blind_index(f"{request_id}\x1f{login_name}", purpose)

    async def new_account(
        self,
        context,
        kind: ac.AccountKind,
        login_name: str,
        password: str,
        display_name: str,
        totp_secret: str = "",
        generated: bool = False,
        within: str = "",
    ) -> ac.NewAccount:
        """`within`: the request's message that describes the account, as in build()."""
        weak = None if generated else identity.check_password(password)  # generated secrets are 256 random bits
        if weak is not None:
            await abort(context, nested(weak, within))
        await self.build(context, lambda: ac.check_display_name(display_name), within)
        password_hash = await self.hash_password(password)
        totp = self.secrets.keyring.encrypt(totp_secret, totp_context(login_name)) if totp_secret else b""
        return await self.build(
            context,
            lambda: ac.NewAccount(
                kind, "name:" + login_name, login_name, b"", self.seal_display_name(display_name), password_hash, totp
            ),
            within,
        )

    async def issue_tokens(self, session: ac.SessionView, reply: type[Tokens] = accounts_pb2.LoginResponse) -> Tokens:
        """A new access and refresh token for the session, in Login's reply or (`reply`) Refresh's."""
        signer, issued, view = self.secrets.signer, self.auth.clock.now_ms(), session.account
        device = view.login_name if view.kind is ac.AccountKind.DEVICE else ""
        access, access_claims = signer.issue_with_claims(
            credentials.Claims(
                view.account_id,
                session.session_id,
                credentials.ACCESS,
                view.roles,
                view.stations,
                view.operators,
                device,
            ),
            issued,
            credentials.ACCESS_TOKEN_TTL_MS,
        )
        refresh, refresh_claims = signer.issue_with_claims(
            credentials.Claims(view.account_id, session.session_id, credentials.REFRESH, token_id=session.refresh_id),
            issued,
            credentials.REFRESH_TOKEN_TTL_MS,
        )
        return reply(
            access_token=access,
            access_expires_at=timestamp(access_claims.expires_at_ms),
            refresh_token=refresh,
            refresh_expires_at=timestamp(refresh_claims.expires_at_ms),
            account=self.account(view, view.account_id),
        )


async def seal_display_names(desk: AccountDesk) -> int:
    """Encrypt the display names that data from before their encryption holds as text, a page of
    accounts at a time; return how many.  Run at every start of the first gateway process.  Each
    page that had such names also makes the owner snapshot and drop the log and the remembered
    requests that hold them; a start that finds none (every start after the first) writes nothing."""
    sealed, offset = 0, 0
    while True:
        page = await desk.accounts.submit(ac.ListAccounts(offset, MAX_PAGE_SIZE))
        seals = tuple(
            (view.account_id, desk.seal_display_name(view.display_name_cipher))
            for view in page.accounts
            if isinstance(view.display_name_cipher, str) and view.display_name_cipher
        )
        if seals:
            await desk.accounts.submit(ac.SealDisplayNames(seals))
        sealed += len(seals)
        if not page.next_offset:
            return sealed
        offset = page.next_offset


def nested(rejection: Rejection, within: str) -> Rejection:
    """The rejection naming its field inside the request's message `within` (AIP-193 paths)."""
    field = rejection.fact("field")
    return at_path(rejection, f"{within}.{field}") if within and field else rejection


def passenger_context(field: str, account_id: str) -> str:
    """Ciphertexts are bound to their field and account: moved elsewhere, they do not decrypt."""
    return f"passenger.{field}:{account_id}"


def principal_of(view: ac.AccountView, session_id: str = "", peer_device: str = "") -> Principal:
    """Who `view` is, for an audit record; a person's device is the client certificate's name."""
    from keyun.engine.permissions import permissions

    device = view.login_name if view.kind is ac.AccountKind.DEVICE else peer_device
    return Principal(
        view.account_id,
        view.kind,
        view.login_name,
        view.roles,
        view.stations,
        view.operators,
        session_id,
        device,
        permissions(view.roles, view.cash_acceptor),
    )


class AccountsService(accounts_pb2_grpc.AccountsServicer):
    def __init__(self, desk: AccountDesk):
        self.desk = desk

    async def Register(self, request, context):
        desk = self.desk
        await check_sms_code(context, request.sms_code)  # well formed even where it is not needed
        try:
            phone = identity.normalize_phone(request.phone)
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        weak = identity.check_password(request.password)
        if weak is not None:
            await abort(context, weak)
        display_name = request.display_name.strip()
        await desk.build(context, lambda: ac.check_display_name(display_name))
        command = await desk.build(
            context,
            lambda: ac.CreateAccount(
                request.request_id,
                ac.NewAccount(
                    ac.AccountKind.PASSENGER,
                    desk.phone_login_key(phone),
                    "",
                    desk.secrets.keyring.encrypt(phone, PHONE_CONTEXT),
                    desk.seal_display_name(display_name),
                    "pending",
                    roles=(Role.PASSENGER.value,),
                ),
            ),
        )
        fingerprint = desk.fingerprint("register", phone, display_name)
        view = await desk.recall(
            context, command.request_id, fingerprint, request.password, lambda first: first.account.password_hash
        )
        if view is None and desk.sms_enabled:
            # A taken number is said before the code is spent, so the passenger keeps it.
            if not isinstance(await desk.accounts.submit(ac.FindLogin(command.account.login_key)), Rejection):
                await abort(
                    context,
                    reject(Reason.ACCOUNT_EXISTS, "an account with this login already exists", field="phone"),
                )
            await desk.use_sms_code(context, nt.CodePurpose.REGISTER, phone, request.sms_code)
        if view is None:
            # Hash only once the request is known to be well formed: hashing is the expensive part.
            new = command.account
            hashed = ac.NewAccount(
                new.kind,
                new.login_key,
                new.login_name,
                new.phone_cipher,
                new.display_name_cipher,
                await desk.hash_password(request.password),
                roles=new.roles,
            )
            view = await desk.ask(
                context, ac.CreateAccount(command.request_id, hashed, fingerprint), audited=True, from_reply=True
            )
        note_audit(target=view.account_id)
        return accounts_pb2.RegisterResponse(account=desk.account(view, view.account_id))

    async def RequestSmsCode(self, request, context):
        desk = self.desk
        if not desk.sms_enabled:
            await abort(
                context,
                reject(Reason.SMS_NOT_CONFIGURED, "this station sends no text messages: register without a code"),
            )
        try:
            phone = identity.normalize_phone(request.phone)
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        purpose = PURPOSE_OF.get(request.purpose)
        if purpose is None:
            await abort(context, invalid("purpose", "REGISTER or RESET_PASSWORD").rejection)
        code = f"{secrets.randbelow(10**nt.CODE_DIGITS):0{nt.CODE_DIGITS}d}"
        client = desk.secrets.keyring.blind_index(_client_address(context), SMS_CLIENT_CONTEXT).hex()[:32]
        issued = await desk.ask(
            context,
            nt.IssueSmsCode(purpose, desk.sms_phone_index(phone), client, desk.sms_code_hash(purpose, phone, code)),
            audited=True,
        )
        # A reset code goes only to a number with an account, and the answer is the same either way.
        send = purpose is nt.CodePurpose.REGISTER or not isinstance(
            await desk.accounts.submit(ac.FindLogin(desk.phone_login_key(phone))), Rejection
        )
        if send and not await desk.notices.send_code(phone, code):
            await abort(
                context, reject(Reason.SMS_UNAVAILABLE, "the text message could not be sent: try again in a minute")
            )
        return accounts_pb2.RequestSmsCodeResponse(expires_at=timestamp(issued.expires_at_ms))

    async def ResetPassword(self, request, context):
        desk = self.desk
        if not desk.sms_enabled:
            await abort(
                context,
                reject(Reason.SMS_NOT_CONFIGURED, "this station sends no text messages: ask the station to reset it"),
            )
        try:
            phone = identity.normalize_phone(request.phone)
            ac.check_request_id(request.request_id)
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        weak = identity.check_password(request.new_password)
        if weak is not None:
            await abort(
                context,
                reject(Reason.WEAK_PASSWORD, weak.message.replace("password", "new_password", 1), field="new_password"),
            )
        found = await desk.accounts.submit(ac.FindLogin(desk.phone_login_key(phone)))
        await desk.use_sms_code(context, nt.CodePurpose.RESET_PASSWORD, phone, request.sms_code)
        if isinstance(found, Rejection):  # no account: no code was sent, so none can match
            await abort(context, nt.wrong_code())
        account_id = found.account.account_id
        note_audit(target=account_id)
        new_hash = await desk.hash_password(request.new_password)
        # keep_session_id "": every session of the account ends.
        await desk.ask(context, ac.ChangePassword(request.request_id, account_id, new_hash, ""), audited=True)
        desk.auth.sessions.forget_account(account_id)
        return accounts_pb2.ResetPasswordResponse()

    async def Login(self, request, context):
        desk = self.desk
        now = desk.auth.clock.now_ms()
        note_audit(target=_login_target(request.login_name))
        try:
            key = desk.login_key(request.login_name)
        except Rejected:
            await abort(context, bad_credentials())
        found = await desk.accounts.submit(ac.FindLogin(key))
        if isinstance(found, Rejection):
            desk.count_password_check("unknown")
            await asyncio.get_running_loop().run_in_executor(None, desk.secrets.passwords.dummy_verify)
            await abort(context, bad_credentials())
        account = found.account
        note_audit(
            target=account.account_id, principal=principal_of(account, peer_device=desk.auth.peer_device(context))
        )
        refusal = ac.refusal_of(account.disabled, found.locked_until_ms, found.retry_at_ms, now)
        if refusal is not None:
            await abort(context, refusal)
        if account.device_disabled:  # told before the password is checked: it says nothing of it
            await abort(
                context,
                reject(
                    Reason.DEVICE_DISABLED,
                    f"this device ({account.login_name}) is disabled by the station: ask the station's system "
                    "administrator to enable it (keyun device enable)",
                ),
            )
        if found.totp_cipher and not request.totp_code:
            # Said before the password is checked, so the answer tells nothing about the password.
            await abort(
                context,
                reject(
                    Reason.SECOND_FACTOR_REQUIRED,
                    "this account needs a TOTP code from its authenticator app",
                    field="totp_code",
                ),
            )
        step = 0
        if found.totp_cipher:
            secret = desk.secrets.keyring.decrypt(found.totp_cipher, totp_context(account.login_name))
            step = credentials.verify_totp(secret, request.totp_code, now) or 0
            if 0 < step <= found.totp_last_step:
                # A code of this account's that already logged in (a second login within 30 s): named, and not
                # counted, since it is no guess.  Said before the password is checked, so it says nothing of it.
                await abort(context, ac.code_reused())
        # The owner admits this check only while the failures counted plus the checks in flight
        # stay within the policy: parallel guesses get no more hashes than serial ones.  Its
        # refusals do not depend on the password, which nobody has looked at yet.
        attempt_id = (
            await desk.ask(context, ac.ReserveLoginAttempt(account.account_id, secrets.token_urlsafe(18)))
        ).attempt_id
        desk.count_password_check("known")
        password_ok = await desk.password_matches(found.password_hash, request.password)
        if found.totp_cipher:
            password_ok = password_ok and step > found.totp_last_step
        if not password_ok:
            # Counted and recorded together by the owner, which adds the lock-out if this failure
            # locked the account.
            note_audit(audit_outcome=Reason.BAD_CREDENTIALS.name)
            await desk.ask(context, ac.LoginFailed(account.account_id, attempt_id), audited=True, from_reply=True)
            await abort(context, bad_credentials())
        try:
            session = await desk.ask(
                context,
                ac.StartSession(
                    account.account_id, secrets.token_urlsafe(24), secrets.token_urlsafe(24), step, attempt_id
                ),
                audited=True,
            )
        except Refused as refused:
            if refused.rejection.reason is Reason.TOTP_CODE_REUSED:  # a login at the same time took the code
                await desk.accounts.submit(ac.ReleaseLoginAttempt(account.account_id, attempt_id, step))
            raise
        if desk.secrets.passwords.needs_rehash(found.password_hash):  # the station raised its argon2 parameters
            await desk.accounts.submit(
                ac.RehashPassword(account.account_id, await desk.hash_password(request.password))
            )
        return await desk.issue_tokens(session)

    async def Refresh(self, request, context):
        desk = self.desk
        claims = desk.secrets.signer.verify(request.refresh_token, desk.auth.clock.now_ms(), kind=credentials.REFRESH)
        if isinstance(claims, Rejection):
            await abort(context, claims)
        note_audit(target=claims.subject)
        try:  # the owner names the account as the record's actor (complete_record)
            session = await desk.ask(
                context,
                ac.RenewSession(claims.session_id, claims.token_id, secrets.token_urlsafe(24)),
                audited=True,
                from_reply=True,
            )
        except Refused:
            desk.auth.sessions.forget(claims.session_id)
            raise
        return await desk.issue_tokens(session, accounts_pb2.RefreshResponse)

    async def Logout(self, request, context):
        principal = caller()
        await self.desk.ask(context, ac.EndSession(principal.session_id), audited=True)
        self.desk.auth.sessions.forget(principal.session_id)
        return accounts_pb2.LogoutResponse()

    async def GetProfile(self, request, context):
        view = await self.desk.ask(context, ac.GetAccount(caller().account_id))
        return accounts_pb2.GetProfileResponse(account=self.desk.account(view, view.account_id))

    async def UpdateProfile(self, request, context):
        desk, display_name = self.desk, request.display_name.strip()
        await desk.build(context, lambda: ac.check_display_name(display_name, required=True))
        account_id = caller().account_id
        command = await desk.build(
            context,
            lambda: ac.UpdateProfile(
                request.request_id,
                account_id,
                desk.seal_display_name(display_name),
                desk.fingerprint("update-profile", account_id, display_name),
            ),
        )
        view = await desk.ask(context, command, audited=True)
        return accounts_pb2.UpdateProfileResponse(account=desk.account(view, view.account_id))

    async def ChangePassword(self, request, context):
        desk, principal = self.desk, caller()
        weak = identity.check_password(request.new_password)
        if weak is not None:
            await abort(
                context,
                reject(Reason.WEAK_PASSWORD, weak.message.replace("password", "new_password", 1), field="new_password"),
            )
        command = await desk.build(
            context,
            lambda: ac.ChangePassword(request.request_id, principal.account_id, "pending", principal.session_id),
        )
        fingerprint = desk.fingerprint("change-password", principal.account_id)
        # A retry of a change that went through: the old password no longer matches, so ask first.
        if (
            await desk.recall(
                context, command.request_id, fingerprint, request.new_password, lambda first: first.password_hash
            )
            is not None
        ):
            return accounts_pb2.ChangePasswordResponse()
        view = await desk.ask(context, ac.GetAccount(principal.account_id))
        found = await desk.ask(context, ac.FindLogin(await _login_key_of(desk, view)))
        if not await desk.password_matches(found.password_hash, request.old_password):
            await abort(context, reject(Reason.BAD_CREDENTIALS, "the old password is wrong", field="old_password"))
        new_hash = await desk.hash_password(request.new_password)
        await desk.ask(
            context,
            ac.ChangePassword(command.request_id, principal.account_id, new_hash, principal.session_id, fingerprint),
            audited=True,
        )
        return accounts_pb2.ChangePasswordResponse()

    async def AddPassenger(self, request, context):
        desk, principal = self.desk, caller()
        keyring = desk.secrets.keyring
        try:
            name = identity.check_person_name(request.name)
            kind = _document_type(request.document_type)
            number = identity.normalize_document(kind, request.document_number)
            phone = identity.normalize_phone(request.phone) if request.phone else ""
            command = ac.AddPassenger(
                request.request_id,
                principal.account_id,
                keyring.encrypt(name, passenger_context("name", principal.account_id)),
                kind.name,
                keyring.encrypt(number, passenger_context("document", principal.account_id)),
                keyring.blind_index(f"{kind.name}:{number}", "passenger.document"),
                keyring.encrypt(phone, passenger_context("phone", principal.account_id)) if phone else b"",
                desk.fingerprint("add-passenger", principal.account_id, name, kind.name, number, phone),
            )
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        added = await desk.ask(
            context, command, audited=True, from_reply=True
        )  # the owner names the new passenger in the record
        return accounts_pb2.AddPassengerResponse(passenger=desk.passenger(principal.account_id, added.passengers[0]))

    async def ListPassengers(self, request, context):
        account_id = caller().account_id
        listed = await self.desk.ask(context, ac.ListPassengers(account_id))
        return accounts_pb2.ListPassengersResponse(
            passengers=[self.desk.passenger(account_id, p) for p in listed.passengers]
        )

    async def RemovePassenger(self, request, context):
        command = await self.desk.build(
            context, lambda: ac.RemovePassenger(request.request_id, caller().account_id, request.passenger_id)
        )
        await self.desk.ask(context, command, audited=True)
        return accounts_pb2.RemovePassengerResponse()


async def check_sms_code(context: grpc.aio.ServicerContext, code: str) -> None:
    if code and not SMS_CODE.fullmatch(code):
        await abort(context, invalid("sms_code", "six digits").rejection)


def _client_address(context: grpc.aio.ServicerContext) -> str:
    """The caller's address without its port ("ipv4:10.0.0.5:51234" -> "ipv4:10.0.0.5")."""
    peer = context.peer() or ""
    return peer.rsplit(":", 1)[0] if peer.count(":") >= 2 else peer


async def _login_key_of(desk: AccountDesk, view: ac.AccountView) -> str:
    if view.kind is ac.AccountKind.PASSENGER:
        return desk.phone_login_key(desk.secrets.keyring.decrypt(view.phone_cipher, PHONE_CONTEXT))
    return "name:" + view.login_name


def _login_target(login_name: str) -> str:
    """What a failed login is recorded against: a staff name as is, a phone number masked."""
    text = login_name.strip()[:64]
    if text[:1].isdigit() or text.startswith("+"):
        return identity.mask_phone(text) if len(text) == 11 else "(a phone number)"
    return text


def bad_credentials() -> Rejection:
    return reject(Reason.BAD_CREDENTIALS, "the login name, password or code is wrong")


def _document_type(value: int) -> identity.DocumentType:
    for name, number in DOCUMENT_TO_PROTO.items():
        if number == value:
            return identity.DocumentType[name]
    raise invalid("document_type", "choose a document type")


def _page(request) -> tuple[int, int]:
    size = request.page_size or DEFAULT_PAGE_SIZE
    if not 0 < size <= MAX_PAGE_SIZE:
        raise invalid("page_size", f"must be 1..{MAX_PAGE_SIZE}")
    if not request.page_token:
        return 0, size
    try:
        offset = int(base64.urlsafe_b64decode(request.page_token.encode()).decode())
    except ValueError:
        offset = -1
    if offset < 1:
        raise Rejected(reject(Reason.BAD_PAGE_TOKEN, "page_token is not one this server gave", field="page_token"))
    return offset, size


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode() if offset else ""


class StaffService(staff_pb2_grpc.StaffServicer):
    def __init__(self, desk: AccountDesk, issuer: str = "Keyun"):
        self.desk = desk
        self.issuer = issuer

    async def SetUp(self, request, context):
        desk = self.desk
        token_hash = hashlib.sha256(request.setup_token.encode()).digest()
        secrets_: dict[str, str] = {}
        admins = []
        for field, role in (
            ("system_admin", Role.SYSTEM_ADMIN),
            ("security_admin", Role.SECURITY_ADMIN),
            ("audit_admin", Role.AUDIT_ADMIN),
        ):
            given = getattr(request, field)
            await desk.build(context, partial(ac.check_login_name, given.login_name), within=field)
            secret = secrets_[given.login_name] = credentials.new_totp_secret()
            new = await desk.new_account(
                context,
                ac.AccountKind.STAFF,
                given.login_name,
                given.password,
                given.display_name.strip(),
                secret,
                within=field,
            )
            admins.append(
                ac.NewAccount(
                    new.kind,
                    new.login_key,
                    new.login_name,
                    new.phone_cipher,
                    new.display_name_cipher,
                    new.password_hash,
                    new.totp_cipher,
                    (role.value,),
                    ("*",),
                    ("*",),
                )
            )
        created = await desk.ask(
            context, await desk.build(context, lambda: ac.SetUp(token_hash, tuple(admins))), audited=True
        )
        return staff_pb2.SetUpResponse(
            administrators=[
                staff_pb2.AdministratorSecret(
                    account=desk.account(view),
                    totp_secret=secrets_[view.login_name],
                    totp_uri=credentials.provisioning_uri(
                        secrets_[view.login_name], view.login_name, issuer=self.issuer
                    ),
                )
                for view in created
            ]
        )

    async def CreateAccount(self, request, context):
        desk = self.desk
        await desk.build(
            context, lambda: (ac.check_request_id(request.request_id), ac.check_login_name(request.login_name))
        )
        device_secret = totp_secret = ""
        if request.kind == accounts_pb2.ACCOUNT_KIND_STAFF:
            kind, password = ac.AccountKind.STAFF, request.password
            if request.second_factor:
                totp_secret = base64.b32encode(
                    desk.derived_secret("account.totp-secret", request.request_id, request.login_name)[:20]
                ).decode()
        elif request.kind == accounts_pb2.ACCOUNT_KIND_DEVICE:
            if request.password or request.second_factor:
                await abort(
                    context,
                    reject(
                        Reason.INVALID_FIELD,
                        "password: devices get a generated secret and no second factor; leave both empty",
                        field="password",
                    ),
                )
            device_secret = (
                base64.urlsafe_b64encode(
                    desk.derived_secret("account.device-secret", request.request_id, request.login_name)
                )
                .decode()
                .rstrip("=")
            )
            kind, password = ac.AccountKind.DEVICE, device_secret
        else:
            await abort(context, reject(Reason.INVALID_FIELD, "kind: STAFF or DEVICE", field="kind"))
        display_name = request.display_name.strip()
        fingerprint = desk.fingerprint(
            "create-account", str(request.kind), request.login_name, display_name, str(request.second_factor)
        )
        view = await desk.recall(
            context, request.request_id, fingerprint, password, lambda first: first.account.password_hash
        )
        if view is None:
            new = await desk.new_account(
                context, kind, request.login_name, password, display_name, totp_secret, generated=bool(device_secret)
            )
            view = await desk.ask(
                context,
                await desk.build(context, lambda: ac.CreateAccount(request.request_id, new, fingerprint)),
                audited=True,
                from_reply=True,
            )
        note_audit(target=view.account_id)
        uri = credentials.provisioning_uri(totp_secret, request.login_name, issuer=self.issuer) if totp_secret else ""
        return staff_pb2.CreateAccountResponse(
            account=desk.account(view), device_secret=device_secret, totp_secret=totp_secret, totp_uri=uri
        )

    async def ListAccounts(self, request, context):
        query = await self.desk.build(context, lambda: ac.ListAccounts(*_page(request)))
        page = await self.desk.ask(context, query)
        return staff_pb2.ListAccountsResponse(
            accounts=[self.desk.account(v) for v in page.accounts], next_page_token=_token(page.next_offset)
        )

    async def DisableAccount(self, request, context):
        principal = caller()
        command = await self.desk.build(context, lambda: ac.DisableAccount(request.request_id, request.account_id))
        if command.account_id == principal.account_id:
            await abort(
                context,
                reject(
                    Reason.PERMISSION_DENIED, "an administrator cannot disable their own account", field="account_id"
                ),
            )
        view = await self.desk.ask(context, command, audited=True)
        return staff_pb2.DisableAccountResponse(account=self.desk.account(view))

    async def UnlockAccount(self, request, context):
        command = await self.desk.build(context, lambda: ac.UnlockAccount(request.request_id, request.account_id))
        view = await self.desk.ask(context, command, audited=True)
        return staff_pb2.UnlockAccountResponse(account=self.desk.account(view))

    async def GrantRoles(self, request, context):
        principal = caller()
        command = await self.desk.build(
            context,
            lambda: ac.GrantRoles(
                request.request_id,
                request.account_id,
                tuple(request.roles),
                tuple(request.stations),
                tuple(request.operators),
                request.cash_acceptor,
            ),
        )
        if command.account_id == principal.account_id:
            await abort(
                context, reject(Reason.PERMISSION_DENIED, "nobody may change their own roles", field="account_id")
            )
        if len(ADMIN_KINDS & set(command.roles)) > 1 or (ADMIN_KINDS & set(command.roles) and len(command.roles) > 1):
            await abort(
                context,
                reject(
                    Reason.PERMISSION_DENIED,
                    "the three administrators are separate: an administrator holds one role only",
                    field="roles",
                ),
            )
        note_audit(
            detail="roles="
            + ",".join(command.roles)
            + " stations="
            + ",".join(command.stations)
            + " operators="
            + ",".join(command.operators)
            + f" cash_acceptor={'yes' if command.cash_acceptor else 'no'}"
        )
        view = await self.desk.ask(context, command, audited=True)
        return staff_pb2.GrantRolesResponse(account=self.desk.account(view))

    async def LookUpPassenger(self, request, context):
        purpose = request.purpose.strip()
        if not purpose:
            await abort(
                context, reject(Reason.MISSING_FIELD, "purpose: say why the personal data is needed", field="purpose")
            )
        if len(purpose) > MAX_PURPOSE_CHARS or any(ord(c) < 32 for c in purpose):
            await abort(
                context,
                reject(
                    Reason.INVALID_FIELD, f"purpose: at most {MAX_PURPOSE_CHARS} printable characters", field="purpose"
                ),
            )
        await self.desk.build(
            context, lambda: (ac.check_account_id(request.account_id), ac.check_passenger_id(request.passenger_id))
        )
        listed = await self.desk.ask(context, ac.ListPassengers(request.account_id))
        record = next((p for p in listed.passengers if p.passenger_id == request.passenger_id), None)
        if record is None:
            await abort(
                context, reject(Reason.UNKNOWN_PASSENGER, f"no passenger {request.passenger_id}", field="passenger_id")
            )
        note_audit(target=f"{request.account_id}/{request.passenger_id}", detail=f"unmasked read: {purpose}")
        return staff_pb2.LookUpPassengerResponse(
            passenger=self.desk.passenger(request.account_id, record, unmasked=True)
        )


class AuditService(audit_pb2_grpc.AuditServicer):
    def __init__(self, audit_actor: Any, owners_flushed: Callable[[], Awaitable[None]]):
        """`owners_flushed` waits until the audit records the trip and accounts owners journaled
        have reached the audit owner, so a read shows every call answered before it."""
        self.actor = audit_actor
        self.owners_flushed = owners_flushed

    async def ListRecords(self, request, context):
        size = request.page_size or DEFAULT_PAGE_SIZE
        if not 0 < size <= MAX_PAGE_SIZE:
            await abort(
                context, reject(Reason.INVALID_FIELD, f"page_size: must be 1..{MAX_PAGE_SIZE}", field="page_size")
            )
        before = None
        if request.page_token:
            try:
                before = int(base64.urlsafe_b64decode(request.page_token.encode()).decode())
            except ValueError:
                before = 0
            if before < 1:
                await abort(
                    context, reject(Reason.BAD_PAGE_TOKEN, "page_token is not one this server gave", field="page_token")
                )
        since = convert.millis(request, "since")
        until = convert.millis(request, "until", None)
        bad_outcome = _bad_outcome_filter(request)
        if bad_outcome is not None:
            await abort(context, bad_outcome)
        async with owner_errors(context):
            await self.owners_flushed()
            records, following = await call_owner(
                self.actor.query.remote(
                    since_ms=since,
                    until_ms=until,
                    actor=request.actor,
                    action=request.action,
                    target=request.target,
                    outcome=OK if request.outcome == audit_pb2.AUDIT_OUTCOME_OK else request.reason,
                    refused_only=request.outcome == audit_pb2.AUDIT_OUTCOME_REFUSED,
                    page_size=size,
                    before_seq=before,
                )
            )
        return audit_pb2.ListRecordsResponse(
            records=[_audit_record(seq, record) for seq, record in records],
            next_page_token=base64.urlsafe_b64encode(str(following).encode()).decode() if following else "",
        )

    async def Verify(self, request, context):
        async with owner_errors(context):
            await self.owners_flushed()
            report = await call_owner(self.actor.verify.remote())
        return audit_pb2.VerifyResponse(
            ok=report.ok,
            records_checked=report.checked,
            head_seq=report.head_seq,
            head_hash=report.head_hash.hex(),
            problem=report.message,
            problem_seq=report.at_seq,
        )


def _bad_outcome_filter(request: audit_pb2.ListRecordsRequest) -> Rejection | None:
    """Why the outcome and reason filters cannot match any record, or None when they can."""
    if request.outcome not in audit_pb2.AuditOutcome.values():
        return reject(Reason.INVALID_FIELD, f"outcome: {request.outcome} is not an AuditOutcome", field="outcome")
    if request.outcome == audit_pb2.AUDIT_OUTCOME_OK and request.reason:
        return reject(Reason.INVALID_FIELD, "reason: a call with outcome OK has no reason", field="reason")
    return None


def _audit_record(seq: int, record: AuditRecord) -> audit_pb2.AuditRecord:
    return audit_pb2.AuditRecord(
        seq=seq,
        at=timestamp(record.at_ms),
        actor=record.actor,
        role=record.role,
        device=record.device,
        station=record.station,
        source=record.source,
        action=record.action,
        target=record.target,
        detail=record.detail,
        outcome=audit_pb2.AUDIT_OUTCOME_OK if record.outcome == OK else audit_pb2.AUDIT_OUTCOME_REFUSED,
        reason="" if record.outcome == OK else record.outcome,
    )
