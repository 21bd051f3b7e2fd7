"""Extraction: fetch one business date's sources into the landing zone (shared/spec/landing.md).

- :mod:`etl.extract.database` pulls the order ledger and the carrier billing records from the
  platform's PostgreSQL or MySQL/MariaDB database into Parquet.
- :mod:`etl.extract.providers` downloads the Alipay, WeChat Pay and UnionPay statements as the
  providers deliver them.
- :mod:`etl.extract.credentials` finds the connection URIs and keys, from the environment or
  an Airflow connection.

Nothing here parses a statement: ``etl.ingest`` does, from the landing zone.
"""
