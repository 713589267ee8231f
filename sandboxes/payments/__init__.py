"""`keyun sandbox-pay`: one process playing both wallets and the card acquirer; no real money moves."""
