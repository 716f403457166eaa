"""Reporting: the monthly submission to the supervising level and the per-department SLA report.

- `months`: the month a submission covers and its trend window.
- `monthly`: the figures (typical-case ratio per jurisdiction, departments,
  trends, the party's cases) and `monthly_report`, which gathers them.
- `monthly_rows`: the grouped queries behind the figures.
- `monthly_output`: the report as CSV files (its Markdown is `notifications.artifacts`).
- `sla`: per-department SLA figures and their CSV.
- `party_cases`: objections and removal applications answered on time or late (SLA and month).
"""

from registry.reporting.monthly import (
    NO_RATIO,
    MonthlyReport,
    monthly_report,
    percent_text,
)
from registry.reporting.monthly_output import report_csvs
from registry.reporting.months import ReportMonth, ReportMonthError, previous_month

__all__ = [
    "NO_RATIO",
    "MonthlyReport",
    "ReportMonth",
    "ReportMonthError",
    "monthly_report",
    "percent_text",
    "previous_month",
    "report_csvs",
]
