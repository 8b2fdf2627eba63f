"""Executions: run a suite, record it, answer history questions."""
