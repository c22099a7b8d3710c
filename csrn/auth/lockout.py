"""Attempt limits (SECURITY A4): a soft lockout keyed on account and address, never a hard lock.

Untrusted clients share the limits below per account+address, per address and per account. A browser holding a
device cookie for the account (`csrn.auth.devices`) is subject only to its own per-device limit, so attackers who
rotate addresses to hold the per-account limit down lock out untrusted clients, never the user's own browser.
"""

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
# One known browser (a device cookie) guessing at its own account: then it waits like anyone else's pair.
DEVICE = parse("6 per 15 minutes")


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


def is_device_locked(kind: str, device: str) -> bool:
    """Whether this known browser (a device cookie's nonce) has used up its own attempts for now."""
    return not _strategy().test(DEVICE, f"{kind}-device", device)


def record_device_failure(kind: str, device: str) -> None:
    """Count one failed attempt against the known browser only (not the account, the pair or the address)."""
    _strategy().hit(DEVICE, f"{kind}-device", device)
