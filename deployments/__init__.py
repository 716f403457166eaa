"""Entry points: the `jointcredit` CLI and the deployment definitions."""
