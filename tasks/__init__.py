"""Prefect tasks: thin adapters that open resources, call one core operation and commit."""
