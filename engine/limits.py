"""Named limits.  Every queue, loop and collection in Keyun is bounded by one of these."""

# A full-size double-decker coach has about 70 seats; 80 leaves room for odd layouts while keeping
# seat maps small enough to scan on every hold.
MAX_SEATS_PER_TRIP = 80

# Legs are kept as bits of a Python int per seat; 16 stops (15 legs) covers the longest
# intercity stopping services and keeps seat maps readable on a counter screen.
MAX_STOPS_PER_ROUTE = 16

# A counter may sell for a family or a small group in one go; larger groups are charter business.
MAX_SEATS_PER_HOLD = 10

# Holds stop a seat from being sold to anyone else, so they must not last long: ten minutes by
# default (enough for a wallet payment), at most thirty, at least one second.
DEFAULT_HOLD_TTL_MS = 10 * 60 * 1000
MAX_HOLD_TTL_MS = 30 * 60 * 1000
MIN_HOLD_TTL_MS = 1000

# Request ids are client-chosen (UUIDs fit easily); a bound keeps the idempotency window's
# memory predictable.
MAX_REQUEST_ID_CHARS = 64

# How many recent results each owner remembers for idempotent retries.  At 100,000 transactions
# a day per station network this covers hours of traffic per shard.
IDEMPOTENCY_WINDOW = 100_000

# Ids of trips, holds and tickets: short printable ASCII so they fit on a ticket and in a QR code.
MAX_ID_CHARS = 64

# Gate and device ids are printed in manifests.
MAX_GATE_ID_CHARS = 32

# One owner call carries at most this many commands; larger batches add latency for little gain.
MAX_BATCH = 512

# Expired holds released per sweep, so a sweep never makes one batch slow.
MAX_SWEEP = 1000
# Trips archived in one batch at most (engine.commands.ArchiveTrips): each takes its whole record
# out of memory, so a backlog (after a long stop) is worked off a few trips a batch.
MAX_ARCHIVE = 16
# An account's order history (ListOrders) reaches its orders on this many archived trips at most,
# per owner, the most recent first: each is read and decoded from the archive on the owner's own
# thread (about 0.2 ms for a full coach), so a frequent traveller's years of history cannot stall
# sales.  Older archived orders are still read one by one (GetOrder).
MAX_ARCHIVED_TRIPS_LISTED = 50
# Audit records an owner keeps for its audit owner (engine/outbox.py).  Past this, the
# audit owner has been away for a minute or more at full speed, and audited calls are turned away
# (the gateway answers OVERLOADED) rather than letting the outbox take the owner's memory.
MAX_AUDIT_OUTBOX = 100_000

# Paged listings (AIP-158).
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

# Trips one network load may schedule: a large station's 7-day timetable is a few thousand.
MAX_TRIPS_PER_LOAD = 20_000

# A network file is a timetable, not a database dump.
MAX_NETWORK_FILE_BYTES = 4 * 1024 * 1024

# Days of trips one load may generate ahead.
MAX_LOAD_DAYS = 60
