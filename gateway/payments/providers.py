"""A station's payment providers, opened from its key directory: what the gateway holds.

Each provider in merchant.json gets its client; a provider missing there is not offered.  Cash is
always offered and needs no client.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from keyun.common.payments_wire.formats import Method
from keyun.common.payments_wire.keys import ProviderKeys

from .base import CardProvider, WalletProvider
from .card import CardAcquirer
from .wallets import AliPay, WePay


@dataclass
class Providers:
    wallets: dict[Method, WalletProvider]  # what NotificationReceiver takes
    card: CardProvider | None
    sandbox: bool  # the keys are keyun sandbox-pay's: no real money moves

    @classmethod
    def load(cls, keys_dir: Path) -> Providers:
        return cls.from_keys(ProviderKeys.load(keys_dir))

    @classmethod
    def from_keys(cls, keys: ProviderKeys) -> Providers:
        wallets: dict[Method, WalletProvider] = {}
        if "wepay" in keys.providers:
            wallets[Method.WALLET_A] = WePay(keys["wepay"])
        if "alipay" in keys.providers:
            wallets[Method.WALLET_B] = AliPay(keys["alipay"])
        card = CardAcquirer(keys["card"]) if "card" in keys.providers else None
        return cls(wallets, card, keys.sandbox)

    def offers(self, method: Method) -> bool:
        if method is Method.CASH:
            return True
        if method is Method.CARD:
            return self.card is not None
        return method in self.wallets

    async def aclose(self) -> None:
        for client in [*self.wallets.values(), *([self.card] if self.card else [])]:
            await client.aclose()
