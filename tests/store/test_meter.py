import math

import pytest

from gureum.store.meter import PriceTable, bill

DEFAULT = PriceTable()


@pytest.mark.parametrize(
    ("duration_ms", "billed_ms"),
    [(0.0, 1), (0.2, 1), (1.0, 1), (1.01, 2), (99.999, 100), (100.0, 100)],
)
def test_duration_is_rounded_up_to_whole_ms_and_at_least_one(
    duration_ms: float, billed_ms: int
) -> None:
    assert bill(duration_ms, 128, DEFAULT).billed_duration_ms == billed_ms


def test_gb_seconds_and_cost_at_list_prices() -> None:
    result = bill(99.3, 1024, DEFAULT)  # 100 ms at 1 GB
    assert result.gb_seconds == pytest.approx(0.1)
    assert result.cost_usd == pytest.approx(0.20 / 1_000_000 + 0.1 * 0.0000166667)


def test_memory_is_billed_at_configured_size() -> None:
    assert bill(1000, 128, DEFAULT).gb_seconds == pytest.approx(0.125)
    assert bill(1000, 10240, DEFAULT).gb_seconds == pytest.approx(10.0)


def test_custom_prices() -> None:
    prices = PriceTable(per_request_usd=1.0, per_gb_second_usd=2.0)
    result = bill(2000, 512, prices)
    assert result.gb_seconds == pytest.approx(1.0)
    assert result.cost_usd == pytest.approx(1.0 + 2.0)


def test_free_prices_cost_nothing() -> None:
    assert bill(5, 128, PriceTable(0.0, 0.0)).cost_usd == 0.0


@pytest.mark.parametrize(("duration_ms", "memory_mb"), [(-1.0, 128), (math.nan, 128), (1.0, 0)])
def test_impossible_measurements_are_rejected(duration_ms: float, memory_mb: int) -> None:
    with pytest.raises(ValueError):
        bill(duration_ms, memory_mb, DEFAULT)
