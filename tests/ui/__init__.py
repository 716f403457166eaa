"""Browser tests: the operator's screens in the Prefect UI, driven with Playwright + Chromium."""
