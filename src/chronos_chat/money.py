"""Exact money: integer nano-dollars inside, ``Decimal`` dollars at the surface.

The one rounding rule lives here: half-even to the nano-dollar.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

NANOS_PER_DOLLAR = 1_000_000_000
NANO = Decimal("0.000000001")


def to_nanos(dollars: Decimal) -> int:
    """Dollars as whole nano-dollars, rounded half-even."""
    return int((dollars * NANOS_PER_DOLLAR).to_integral_value(rounding=ROUND_HALF_EVEN))


def round_nanos(nanos: Decimal) -> int:
    """A fractional count of nano-dollars as a whole one, rounded half-even."""
    return int(nanos.to_integral_value(rounding=ROUND_HALF_EVEN))


def from_nanos(nanos: int) -> Decimal:
    """Whole nano-dollars as exact dollars (nine decimal places)."""
    return Decimal(nanos).scaleb(-9)
