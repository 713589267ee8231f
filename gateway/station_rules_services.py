"""The StationRules servicer: the station rules (the policy file) read and scheduled at runtime.

A change is validated exactly like the `--policy` file at start (engine/policy.py parse_policy),
journaled by the accounts owner with its audit record (engine/station_rules.py), then sent to every
trip owner, which decides each command by the rules in force at its time.  A trip owner that starts
reads the schedule from the accounts owner itself, so the push only has to reach the owners that
run now; a push that fails is reported (UNAVAILABLE) and a retry with the same request id sends it
again, answered from the accounts owner's idempotency window.
"""

from __future__ import annotations

import tomllib
from collections.abc import Awaitable, Callable

from keyun.engine import station_rules as sr
from keyun.engine.policy import DAY_MS, MINUTE_MS, Policy, PolicyError, fares_toml, parse_policy, policy_toml
from keyun.engine.reasons import Reason, Rejected, invalid, reject
from keyun.v1 import policy_pb2, policy_pb2_grpc

from . import convert
from .account_services import AccountDesk
from .auth import caller
from .errors import note_audit, owner_errors
from .services import Gateway

# The account rules (session idle time, lock-out...) are the accounts owner's, read at start only.
START_ONLY_TABLES = ("accounts",)


def parse_rules_text(text: str) -> Policy:
    """The policy file's rules, or Rejected with BAD_STATION_RULES naming every problem (its first
    field in `field`, all of them in `problems`), as `keyun serve --policy` would refuse the file."""
    if len(text.encode()) > sr.MAX_RULES_TEXT_BYTES:  # before parsing it
        raise invalid("toml_text", f"a policy file of 1 to {sr.MAX_RULES_TEXT_BYTES} bytes")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise Rejected(reject(Reason.BAD_STATION_RULES, f"toml_text: not TOML: {error}", field="toml_text")) from None
    problems = [
        f"{key}: read at start only (the --policy file); leave it out here" for key in START_ONLY_TABLES if key in doc
    ]
    try:
        policy = parse_policy({key: value for key, value in doc.items() if key not in START_ONLY_TABLES})
    except PolicyError as error:
        problems += error.problems
    if problems:
        field = problems[0].partition(":")[0]
        raise Rejected(
            reject(Reason.BAD_STATION_RULES, "; ".join(problems), field=field, problems=" | ".join(problems))
        )
    return policy


def rule_fields(policy: Policy) -> policy_pb2.StationRuleFields:
    return policy_pb2.StationRuleFields(
        hold_minutes=policy.hold_ttl_ms // MINUTE_MS,
        boarding_opens_minutes=policy.boarding_opens_ms // MINUTE_MS,
        boarding_closes_minutes=policy.boarding_closes_ms // MINUTE_MS,
        sales_close_minutes=policy.sales_close_ms // MINUTE_MS,
        refund_tiers=[
            policy_pb2.RefundTierRule(
                minutes_before=tier.min_ms_before // MINUTE_MS,
                fee_basis_points=tier.fee_basis_points,
                min_fee_fen=tier.min_fee_fen,
            )
            for tier in policy.refund_tiers
        ],
        archive_after_days=policy.archive_after_ms // DAY_MS,
        void_minutes=policy.void_window_ms // MINUTE_MS,
        require_document_match=policy.require_document_match,
        require_safety_check=policy.require_safety_check,
        fares_toml=fares_toml(policy.fares),
    )


def base_message(policy: Policy) -> policy_pb2.StationRuleSet:
    return policy_pb2.StationRuleSet(toml_text=policy_toml(policy), fields=rule_fields(policy), base=True)


def change_message(change: sr.ScheduledRules) -> policy_pb2.StationRuleSet:
    return policy_pb2.StationRuleSet(
        effective_at=convert.timestamp(change.effective_at_ms),
        toml_text=change.toml_text,
        fields=rule_fields(change.policy),
        scheduled_at=convert.timestamp(change.scheduled_at_ms),
        scheduled_by=change.account_id,
    )


def rules_message(base: Policy, view: sr.StationRulesView, now_ms: int) -> policy_pb2.GetStationRulesResponse:
    """The rules in force at `now_ms` and the changes after it."""
    in_force = [change for change in view.changes if change.effective_at_ms <= now_ms]
    return policy_pb2.GetStationRulesResponse(
        in_force=change_message(in_force[-1]) if in_force else base_message(base),
        scheduled=[change_message(change) for change in view.changes if change.effective_at_ms > now_ms],
    )


def rules_in_force(gateway: Gateway, accounts) -> Callable[[], Awaitable[Policy]]:
    """What the gateway asks for the rules in force now (the gates' boarding rules): read from the
    accounts owner at each call, so every gateway of the station sees a change at its time."""

    async def now() -> Policy:
        view = await accounts.submit(sr.GetStationRules())
        return sr.policy_at(gateway.policy, view.changes, gateway.clock.now_ms())

    return now


class StationRulesService(policy_pb2_grpc.StationRulesServicer):
    def __init__(self, gateway: Gateway, desk: AccountDesk, pool) -> None:
        self.gateway, self.desk, self.pool = gateway, desk, pool

    async def GetStationRules(self, request, context):
        view = await self.desk.ask(context, sr.GetStationRules())
        return rules_message(self.gateway.policy, view, self.gateway.clock.now_ms())

    async def ScheduleStationRules(self, request, context):
        now_ms = self.gateway.clock.now_ms()

        def build() -> sr.ScheduleStationRules:
            effective_at = convert.millis(request, "effective_at", None)
            if effective_at is None:
                raise invalid("effective_at", "required: when the new rules take effect")
            if effective_at <= now_ms:
                raise Rejected(
                    reject(
                        Reason.STATION_RULES_IN_PAST,
                        "effective_at: the new rules must take effect later than now",
                        field="effective_at",
                    )
                )
            policy = parse_rules_text(request.toml_text)
            return sr.ScheduleStationRules(
                request.request_id, request.toml_text, policy, effective_at, caller().account_id
            )

        command = await self.desk.build(context, build)
        note_audit(detail=f"station rules from {command.effective_at_ms} ms")
        view = await self.desk.ask(context, command, audited=True)
        async with owner_errors(context):
            await self.pool.send_station_rules(view)
        # A retry answered from the owner's window may find the change replaced by a later one since.
        scheduled = next((c for c in view.changes if c.effective_at_ms == command.effective_at_ms), None)
        return policy_pb2.ScheduleStationRulesResponse(
            scheduled=change_message(scheduled) if scheduled is not None else None,
            rules=rules_message(self.gateway.policy, view, now_ms),
        )
