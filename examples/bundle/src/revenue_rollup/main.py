"""Job entry point: apply the rollup through Spark to the last N days of orders.

The orders table is the one drhost replicates to dr, so the same job runs in either region
against that region's catalog. Rewrites only the days it recomputes (replaceWhere), so a rerun
or a run after failover is idempotent.
"""

import argparse
from datetime import date, timedelta

from .rollup import OUTPUT_COLUMNS, rollup

SCHEMA = ("order_date date, currency string, orders long, gross decimal(18,2), "
          "refunds decimal(18,2), net decimal(18,2), avg_order_value decimal(18,2)")


def _apply(pdf):
    import pandas as pd     # on the Databricks runtime; the unit tests never import it
    out = rollup(pdf.to_dict("records"))
    return pd.DataFrame(out, columns=list(OUTPUT_COLUMNS))


def main(argv=None):
    p = argparse.ArgumentParser(prog="revenue-rollup")
    p.add_argument("--catalog", required=True)
    p.add_argument("--source", default="sales.orders", help="schema.table of the orders")
    p.add_argument("--target", default="sales_derived.daily_revenue")
    p.add_argument("--lookback-days", type=int, default=3)
    a = p.parse_args(argv)

    from pyspark.sql import SparkSession, functions as F
    spark = SparkSession.builder.getOrCreate()
    start = (date.today() - timedelta(days=a.lookback_days)).isoformat()
    orders = (spark.table(f"{a.catalog}.{a.source}")
              .where(F.col("order_ts") >= F.lit(start))
              .withColumn("_day", F.to_date("order_ts")))
    daily = orders.groupBy("_day", "currency").applyInPandas(_apply, schema=SCHEMA)
    (daily.write.mode("overwrite").option("replaceWhere", f"order_date >= '{start}'")
     .saveAsTable(f"{a.catalog}.{a.target}"))


if __name__ == "__main__":
    main()
