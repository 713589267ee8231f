"""Payment providers: cash, a card acquirer behind the counter's POS terminal, and two wallets.

`base` holds the values and the provider interface, `wallets` and `card` the HTTP clients with
their signatures, `receiver` the endpoint the wallets notify.  The process that plays every
provider for tests and the demo (`keyun sandbox-pay`, no real money) is keyun.sandboxes.payments;
the key files, signatures and formats both sides share are keyun.common.payments_wire.
"""
