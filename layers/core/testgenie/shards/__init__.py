"""Sharding: one phase run as N runner invocations at once, split and merged by pure functions."""
