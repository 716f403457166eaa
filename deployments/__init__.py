"""Entry points: the `jointcredit` CLI and the deployment definitions.

Importing this package switches Prefect's analytics off before any command imports Prefect:
the server's telemetry heartbeat (`PREFECT_SERVER_ANALYTICS_ENABLED`) and the client's
(`DO_NOT_TRACK`). A regulator's system does not call out to a vendor, and on a machine without
internet access every command that started Prefect logged "Failed to send telemetry". An
operator who sets either variable explicitly keeps their choice.
"""

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
