"""Exact money: integer nano-dollars inside, ``Decimal`` dollars at the surface.

The one rounding rule lives here: half-even to the nano-dollar.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

NANO = Decimal("0.000000001")


def round_nanos(nanos: Decimal) -> int:
    """A fractional count of nano-dollars as a whole one, rounded half-even."""
    return int(nanos.to_integral_value(rounding=ROUND_HALF_EVEN))


def round_dollars(amount: Decimal) -> Decimal:
    """Dollars (an average, a share) rounded half-even to the nano-dollar."""
    return amount.quantize(NANO, ROUND_HALF_EVEN)


def from_nanos(nanos: int) -> Decimal:
    """Whole nano-dollars as exact dollars (nine decimal places)."""
    return Decimal(nanos).scaleb(-9)
