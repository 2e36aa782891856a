"""Budget headers in each family a server may send (contract section 8)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enectiva.budget import Budget, parse_budget


@pytest.mark.parametrize(
    ("headers", "budget"),
    [
        pytest.param(
            {
                "X-RateLimit-Limit": "100",
                "X-RateLimit-Remaining": "42",
                "X-RateLimit-Reset": "0.58",
            },
            Budget(rate=100, capacity=100, remaining=42, reset=0.58),
            id="ours",
        ),
        pytest.param(
            {"x-ratelimit-limit": "20", "X-RATELIMIT-REMAINING": "0"},
            Budget(rate=20, capacity=20, remaining=0),
            id="ours-any-case-no-reset",
        ),
        pytest.param({"X-Rate-Limit": "17"}, Budget(remaining=17), id="enerkey"),
        pytest.param(
            {"RateLimit-Limit": "50", "RateLimit-Remaining": "7", "RateLimit-Reset": "3"},
            Budget(rate=50, capacity=50, remaining=7, reset=3),
            id="ietf-triple-per-second",
        ),
        pytest.param(
            {
                "RateLimit-Limit": "600",
                "RateLimit-Remaining": "300",
                "RateLimit-Reset": "30",
                "RateLimit-Policy": "600;w=60",
            },
            Budget(rate=10, capacity=600, remaining=300, reset=30),
            id="ietf-triple-with-window",
        ),
        pytest.param(
            {"RateLimit": "limit=100, remaining=50, reset=30", "RateLimit-Policy": "100;w=10"},
            Budget(rate=10, capacity=100, remaining=50, reset=30),
            id="ietf-draft7",
        ),
        pytest.param(
            {"RateLimit": '"default";r=50;t=30', "RateLimit-Policy": '"default";q=100;w=60'},
            Budget(rate=100 / 60, capacity=100, remaining=50, reset=30),
            id="ietf-structured",
        ),
        pytest.param(
            {
                "RateLimit": '"burst";r=3;t=1, "daily";r=900;t=3600',
                "RateLimit-Policy": '"daily";q=1000;w=86400, "burst";q=10;w=1',
            },
            Budget(rate=10, capacity=10, remaining=3, reset=1),
            id="ietf-structured-several-policies-tightest",
        ),
        pytest.param(
            {"RateLimit": '"default";r=5;t=2'},
            Budget(remaining=5, reset=2),
            id="ietf-structured-without-policy",
        ),
        pytest.param({"Content-Type": "application/vnd.api+json"}, None, id="none"),
        pytest.param({"X-RateLimit-Limit": "lots"}, None, id="unreadable-ignored"),
        pytest.param({"X-RateLimit-Remaining": "-3"}, None, id="negative-ignored"),
    ],
)
def test_families(headers: dict[str, str], budget: Budget | None) -> None:
    got = parse_budget(headers)
    if budget is None or got is None:
        assert got == budget
        return
    for name in ("rate", "capacity", "remaining", "reset"):
        expected, value = getattr(budget, name), getattr(got, name)
        assert (value is None) == (expected is None), name
        if expected is not None:
            assert value == pytest.approx(expected), name


def test_ours_wins_over_the_others() -> None:
    got = parse_budget({"X-RateLimit-Limit": "100", "X-Rate-Limit": "3", "RateLimit-Limit": "9"})
    assert got is not None and got.rate == 100


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
                "X-Rate-Limit",
                "RateLimit",
                "RateLimit-Policy",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "Other",
            ]
        ),
        st.text(max_size=30),
    )
)
def test_any_header_values_never_raise_and_never_go_negative(headers: dict[str, str]) -> None:
    got = parse_budget(headers)
    if got is not None:
        for value in (got.rate, got.capacity, got.remaining, got.reset):
            assert value is None or value >= 0
