"""Money out: withdrawals of merchants' available balance to encrypted bank accounts, the
income list, and property companies' statements and payouts (docs/money.md)."""

from lago_core.moneyout.crypto import BankCipher
from lago_core.moneyout.service import Balance, BankAccountView, MoneyOutService, mask_account
from lago_core.moneyout.store import MoneyOutStore

__all__ = [
    "Balance",
    "BankAccountView",
    "BankCipher",
    "MoneyOutService",
    "MoneyOutStore",
    "mask_account",
]
