"""Scenario sources: where a scenario's files come from (a folder, or bundles in S3)."""
