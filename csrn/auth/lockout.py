"""Attempt limits (SECURITY A4): a soft lockout keyed on account and address, never a hard lock."""

from __future__ import annotations

from limits import parse
from limits.strategies import MovingWindowRateLimiter

from csrn.extensions import limiter

# Six wrong answers for one account from one address, then that pair waits 15 minutes.
PAIR = parse("6 per 15 minutes")
# One address guessing across many accounts.
ADDRESS = parse("30 per 15 minutes")
# One account guessed at from many addresses: slows a spread-out attack, lifts within the minute.
ACCOUNT = parse("20 per 1 minute")


def _strategy() -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(limiter.storage)


def _keys(kind: str, account: str, address: str):
    account = (account or "").strip().lower()[:254]
    return [
        (PAIR, (f"{kind}-pair", account, address)),
        (ADDRESS, (f"{kind}-address", address)),
        (ACCOUNT, (f"{kind}-account", account)),
    ]


def is_locked(kind: str, account: str, address: str) -> bool:
    """Whether further attempts by this account from this address are refused for now."""
    strategy = _strategy()
    return any(not strategy.test(item, *ids) for item, ids in _keys(kind, account, address))


def record_failure(kind: str, account: str, address: str) -> None:
    """Count one failed attempt against the pair, the address and the account."""
    strategy = _strategy()
    for item, ids in _keys(kind, account, address):
        strategy.hit(item, *ids)
