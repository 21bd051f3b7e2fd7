"""Ingestion: one parser per landing source, all returning the canonical shapes of etl.schema."""
