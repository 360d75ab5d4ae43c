"""Daily revenue rollup: orders (a table replicated to dr) -> revenue per day and currency."""

from .rollup import OUTPUT_COLUMNS, rollup, summarize_day

__all__ = ["OUTPUT_COLUMNS", "rollup", "summarize_day"]
