"""Numbers printed in the course report, shown beside the user's own results for comparison."""

from __future__ import annotations

import math

# Mean crowd agreement per intended emotion over all three modalities, as the report prints it.
REPORT_AGREEMENT = {"ANG": 0.684, "DIS": 0.638, "FEA": 0.637, "HAP": 0.792, "NEU": 0.763, "SAD": 0.619}


def truncate(value: float, decimals: int = 3) -> float:
    """Truncate (not round) as the report's table does: 0.6379 -> 0.637."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return value
    factor = 10**decimals
    return math.floor(value * factor + 1e-9) / factor
