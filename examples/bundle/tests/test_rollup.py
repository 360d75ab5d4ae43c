from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from revenue_rollup import OUTPUT_COLUMNS, rollup


def order(oid, ts, amount, status="placed", currency="EUR"):
    return {"order_id": oid, "order_ts": ts, "amount": amount, "status": status,
            "currency": currency}


def test_groups_by_utc_day_and_currency():
    cet = timezone(timedelta(hours=1))
    rows = [order(1, "2026-03-01T09:00:00", "10.00"),
            order(2, datetime(2026, 3, 2, 0, 30, tzinfo=cet), "5.00"),   # 23:30 UTC on 1 March
            order(3, "2026-03-01T10:00:00", "7.50", currency="usd"),
            order(4, "2026-03-02T08:00:00", "1.00")]
    out = rollup(rows)
    assert [(r["order_date"], r["currency"], r["orders"]) for r in out] == [
        (date(2026, 3, 1), "EUR", 2), (date(2026, 3, 1), "USD", 1), (date(2026, 3, 2), "EUR", 1)]
    assert out[0]["gross"] == Decimal("15.00") and set(out[0]) == set(OUTPUT_COLUMNS)


def test_refunds_cancellations_and_rounding():
    rows = [order(1, "2026-03-01T01:00:00", "10.005"),
            order(2, "2026-03-01T02:00:00", "20.00", "shipped"),
            order(3, "2026-03-01T03:00:00", "4.00", "refunded"),
            order(4, "2026-03-01T04:00:00", "99.00", "cancelled")]
    (r,) = rollup(rows)
    assert r["orders"] == 2
    assert r["gross"] == Decimal("30.00")          # 30.005 -> half to even
    assert r["refunds"] == Decimal("4.00") and r["net"] == Decimal("26.00")
    assert r["avg_order_value"] == Decimal("15.00")


def test_only_refunds_has_no_average_and_duplicates_count_once():
    rows = [order(7, "2026-03-01T01:00:00", "3.00", "refunded"),
            order(7, "2026-03-01T01:00:00", "3.00", "refunded")]
    (r,) = rollup(rows)
    assert r["orders"] == 0 and r["refunds"] == Decimal("3.00") and r["avg_order_value"] is None
    assert r["net"] == Decimal("-3.00")


@pytest.mark.parametrize("row,needle", [
    (order(1, "2026-03-01T01:00:00", "x"), "not a number"),
    (order(1, "2026-03-01T01:00:00", "-1"), "negative"),
    (order(1, "2026-03-01T01:00:00", "1", "lost"), "unknown status"),
    (order(1, "2026-03-01T01:00:00", "1", currency="EURO"), "ISO 4217"),
])
def test_bad_rows_name_the_order(row, needle):
    with pytest.raises(ValueError, match=needle):
        rollup([row])


def test_empty_input():
    assert rollup([]) == []
