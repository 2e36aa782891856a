"""A mix of faults at one overall rate: the sandbox's own knobs plus the chaos proxy's."""

from __future__ import annotations

from typing import Any

from tests.reliability.chaos_proxy import FAULT_KINDS, ChaosProxy
from tests.support.sandbox import Sandbox

RATES = (0.01, 0.10, 0.30)
#: Share of the overall rate per fault source.
SANDBOX_MIX = {"fail_rate": 0.30, "drop_rate": 0.10}
PROXY_MIX = {"429_no_retry_after": 0.15, "slow": 0.10, "5xx_after": 0.20, "reset": 0.15}
#: Requests/s per credential of the sandbox's 429 (with Retry-After) at each rate.
RATE_LIMITS = {0.01: None, 0.10: 60.0, 0.30: 30.0}


def apply_mix(sb: Sandbox, proxy: ChaosProxy, rate: float) -> None:
    sb.set_faults(
        **{name: share * rate for name, share in SANDBOX_MIX.items()},
        rate_limit=RATE_LIMITS[rate],
    )
    proxy.set_rates(**{kind: share * rate for kind, share in PROXY_MIX.items()})


def injected(sb: Sandbox, proxy: ChaosProxy) -> dict[str, int]:
    """Faults injected per kind, read from the sandbox's counters and the proxy's."""
    stats = sb.stats()
    by_status = stats["by_operation_status"]
    return {
        "5xx_before": stats["failed"],
        "dropped": stats["dropped"],
        "429_retry_after": stats["rate_limited"],
        "token_expired_401": sum(
            n for key, n in by_status.items() if key.endswith(" 401") and "Access" not in key
        ),
        "token_issued": by_status.get("createAccessToken 201", 0),
        **{f"proxy_{kind}": proxy.counts.get(kind, 0) for kind in FAULT_KINDS},
    }


def fault_total(faults: dict[str, Any]) -> int:
    return sum(v for k, v in faults.items() if k != "token_issued")


def rate_label(rate: float) -> str:
    return f"{rate:.0%}"


def rate_id(rate: float) -> str:
    """A pytest id usable with ``-k`` (``rate10``)."""
    return f"rate{round(rate * 100)}"
