"""Domain core of jointcredit: rules, identifiers, calendar, lifecycle, audit and persistence.

Nothing here imports Prefect, Jinja2 or aiosmtplib (DESIGN.md §1.2): the core is testable in
milliseconds and the Prefect shell (`tasks/`, `flows/`) only sequences it.
"""
