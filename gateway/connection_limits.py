"""How long the gRPC server keeps a connection: the handshake, idleness, age, and clients' pings.

grpc core keeps a connection for as long as its client likes unless told otherwise: a socket that
never finishes its handshake for 120 s, and an HTTP/2 connection without calls for ever.  Each
costs a file descriptor and memory, so a few thousand idle or half-open sockets would exhaust a
station's gateway.  These limits close them; grpc core 1.85 honours each channel argument below.
"""

from __future__ import annotations

from dataclasses import dataclass

# A WatchOrder stream ends after this long even if the order never settles: clients reconnect if
# they still care.  (Here, not in order_services, so that `keyun`'s argument parser can read these
# limits without loading the gateway.)
MAX_WATCH_S = 30 * 60
# A new connection must finish TCP, TLS and the HTTP/2 preface and settings within this time.
# That is a few round trips: a handheld on a poor mobile link (about 1 s a round trip) needs a few
# seconds; a socket still silent after 10 s is broken or holding the slot on purpose.
HANDSHAKE_TIMEOUT_MS = 10_000
# A connection without a call for this long is closed with GOAWAY; the client's channel connects
# again at its next call, which costs one handshake.  Counters and kiosks call every few minutes
# at the quietest, so they keep their connection through a normal lull.
CONNECTION_IDLE_MS = 10 * 60 * 1000
# Every connection is closed after this age (GOAWAY, then the grace below), so the kernel spreads
# long-lived terminals over the --workers processes again, and no connection lives for ever.
CONNECTION_AGE_MS = 60 * 60 * 1000
# Calls in flight at that age may finish: the longest is a WatchOrder stream, which ends by
# itself after MAX_WATCH_S, plus a minute for unary calls still running.
CONNECTION_AGE_GRACE_MS = (MAX_WATCH_S + 60) * 1000
# The server pings a connection that carries calls every 2 minutes and closes it when the ping is
# not answered within 20 s: a handheld that lost its network mid-WatchOrder leaves no FIN, and
# without pings its half-open connection would hold the stream until the watch's own limit.
KEEPALIVE_TIME_MS = 2 * 60 * 1000
KEEPALIVE_TIMEOUT_MS = 20 * 1000
# Keyun's clients send no keepalive pings.  A client may ping at most every 5 minutes while calls
# carry no data (grpc's own default, stated here), and with no call at all grpc allows one ping in
# 2 hours; after 2 pings too many the server closes the connection (ENHANCE_YOUR_CALM), so pings
# cannot keep an idle connection open or cost the gateway a reply each.  The same setting keeps
# the server from pinging connections without calls: the idle limit closes those.
MIN_CLIENT_PING_INTERVAL_MS = 5 * 60 * 1000
CLIENT_PINGS_WITHOUT_CALLS = 0
MAX_PING_STRIKES = 2


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The limits an operator may set (keyun serve --handshake-timeout-ms, --connection-idle-ms,
    --connection-age-ms); the keepalive policy is fixed."""

    handshake_timeout_ms: int = HANDSHAKE_TIMEOUT_MS
    connection_idle_ms: int = CONNECTION_IDLE_MS
    connection_age_ms: int = CONNECTION_AGE_MS

    def __post_init__(self) -> None:
        for name in ("handshake_timeout_ms", "connection_idle_ms", "connection_age_ms"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 ms, not {getattr(self, name)}")

    def channel_options(self) -> list[tuple[str, int]]:
        """The grpc.aio server's channel arguments for these limits."""
        return [
            ("grpc.server_handshake_timeout_ms", self.handshake_timeout_ms),
            ("grpc.max_connection_idle_ms", self.connection_idle_ms),
            ("grpc.max_connection_age_ms", self.connection_age_ms),
            ("grpc.max_connection_age_grace_ms", CONNECTION_AGE_GRACE_MS),
            ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
            ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
            ("grpc.http2.min_ping_interval_without_data_ms", MIN_CLIENT_PING_INTERVAL_MS),
            ("grpc.keepalive_permit_without_calls", CLIENT_PINGS_WITHOUT_CALLS),
            ("grpc.http2.max_ping_strikes", MAX_PING_STRIKES),
        ]


DEFAULT_CONNECTION_LIMITS = ConnectionLimits()  # frozen, so one instance serves as every default
