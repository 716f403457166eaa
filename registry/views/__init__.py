"""Operator read views: a batch's status, a listing's history, a subject's credit archive.

- `common`: the tables, the line shapes every view shows, and masking of typed free text.
- `batch`, `listing`, `archive`: one view each, a handful of set-based queries whatever the size.
"""

from registry.views.archive import CreditArchive, credit_archive, credit_archive_by_identifier
from registry.views.batch import BatchQuarantine, BatchView, batch_quarantine, batch_view
from registry.views.common import ActionLine, HistoryEntry, NoticeLine, SubjectRef, scrub
from registry.views.listing import ListingView, listing_view

__all__ = [
    "ActionLine",
    "BatchQuarantine",
    "BatchView",
    "CreditArchive",
    "HistoryEntry",
    "ListingView",
    "NoticeLine",
    "SubjectRef",
    "batch_quarantine",
    "batch_view",
    "credit_archive",
    "credit_archive_by_identifier",
    "listing_view",
    "scrub",
]
