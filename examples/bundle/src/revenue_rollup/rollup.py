"""The transformation, as pure Python: no Spark, no Databricks, so it is unit-tested anywhere.

An order row is a mapping with `order_id`, `order_ts` (datetime or ISO string), `currency`,
`amount` (the order total, Decimal-compatible) and `status` (placed | shipped | refunded |
cancelled). For each (order day in UTC, currency) the rollup reports:

- `orders`: orders that count (placed or shipped; a cancelled order never counts),
- `gross`: their total, `refunds`: the total of refunded orders,
- `net` = gross - refunds, `avg_order_value` = gross / orders (None without orders),

money rounded to cents, half to even, as accountants do.
"""

from collections import defaultdict
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

OUTPUT_COLUMNS = ("order_date", "currency", "orders", "gross", "refunds", "net",
                  "avg_order_value")
COUNTED = frozenset({"placed", "shipped"})
KNOWN = COUNTED | {"refunded", "cancelled"}
CENT = Decimal("0.01")


def _money(x):
    return x.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _day(ts):
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    if isinstance(ts, datetime):
        if ts.tzinfo is not None:
            ts = ts.astimezone(timezone.utc)
        return ts.date()
    if isinstance(ts, date):
        return ts
    raise ValueError(f"order_ts {ts!r}: expected a datetime, a date or an ISO string")


def _amount(row):
    try:
        a = Decimal(str(row["amount"]))
    except (InvalidOperation, KeyError):
        raise ValueError(f"order {row.get('order_id')!r}: amount {row.get('amount')!r} "
                         "is not a number") from None
    if a < 0:
        raise ValueError(f"order {row.get('order_id')!r}: negative amount {a}")
    return a


def summarize_day(order_date, currency, rows):
    """One output row from the orders of one day and currency."""
    n, gross, refunds = 0, Decimal(0), Decimal(0)
    seen = set()
    for row in rows:
        oid = row.get("order_id")
        if oid in seen:        # a replayed ingest can deliver an order twice: count it once
            continue
        seen.add(oid)
        status = str(row.get("status", "")).lower()
        if status not in KNOWN:
            raise ValueError(f"order {oid!r}: unknown status {row.get('status')!r}")
        if status in COUNTED:
            n += 1
            gross += _amount(row)
        elif status == "refunded":
            refunds += _amount(row)
    return {"order_date": order_date, "currency": currency, "orders": n,
            "gross": _money(gross), "refunds": _money(refunds), "net": _money(gross - refunds),
            "avg_order_value": _money(gross / n) if n else None}


def rollup(rows):
    """All output rows, sorted by day then currency."""
    groups = defaultdict(list)
    for row in rows:
        cur = row.get("currency")
        if not cur or len(str(cur)) != 3:
            raise ValueError(f"order {row.get('order_id')!r}: currency {cur!r} is not an "
                             "ISO 4217 code")
        groups[(_day(row["order_ts"]), str(cur).upper())].append(row)
    return [summarize_day(d, c, rs) for (d, c), rs in sorted(groups.items())]
