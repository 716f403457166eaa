"""Test data in one place: each module builds one kind of thing the way the system does.

- `listings`: batches and listings (any state, as intake leaves them, routed to the end).
- `routing`: the issuer, a routing context, batches dispatched to departments, business times.
- `bulk`: large backlogs for concurrency tests; `outbox`: queued notices.
- `reports`: a month of listings and actions for the monthly report.
- `import_files`: intake files in every format and encoding.
- `notices`: one valid context per notice kind; `identities`: resident ID numbers and leak search.
- `flow_runs`: waiting for a Prefect flow run to pause.
"""
