"""Payment providers: cash, a card acquirer behind the counter's POS terminal, and two wallets.

`base` holds the values and the provider interface, `wallets` and `card` the HTTP clients with
their signatures, `receiver` the endpoint the wallets notify, and `sandbox` the process
(`keyun sandbox-pay`) that plays every provider for tests and the demo: no real money moves there.
"""
