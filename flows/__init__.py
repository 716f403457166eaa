"""Prefect flows: sequencing only; each reads like the process it runs (DESIGN.md §4)."""
