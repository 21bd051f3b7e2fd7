"""The console: where finance, ops and product work behind a login (docs/CONSOLE.md).

It reads only what the nightly run publishes (``<output>/<date>/console/*.parquet``) and keeps
what people do in its own database (``console.store``); it never opens the warehouse.
"""
