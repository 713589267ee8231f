"""Where a sale or a search came from (its channel), and the context of passengers' pseudonyms:
one definition for the report projector (persistence/reports.py) and the gateway's funnel
recorder (gateway/funnel.py), so a search and the order that follows it count in one channel
under one pseudonym (docs/reporting.md)."""

from __future__ import annotations

# The HMAC context of the keyed pseudonyms that stand for passengers and accounts in the reports.
PSEUDONYM_CONTEXT = "keyun.reports.pseudonym"
WALLET_METHODS = ("wepay", "alipay")
CHANNELS = ("kiosk", "handheld", "counter", "wallet", "web", "other")


def channel_of(roles: str, method: str = "") -> str:
    """Where a sale was made, from the seller's roles (an audit record's comma-joined `role`)."""
    names = set(roles.split(","))
    if "kiosk_device" in names:
        return "kiosk"
    if "handheld_device" in names:
        return "handheld"
    if names & {"counter_seller", "ticket_seller"}:
        return "counter"
    if "passenger" in names:
        return "wallet" if method in WALLET_METHODS else "web"
    return "other" if roles else ""
