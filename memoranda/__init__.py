"""The catalogue as data: memoranda, departments, rule-sets and holiday years (DESIGN.md §1.5).

YAML files checked by strict pydantic models (`schema.py`) and loaded with cross-references
resolved (`loader.py`). The package directory is the default `JOINTCREDIT_CATALOGUE_DIR`.
Also, as the lowest layer, the root of the error tree (`errors.py`) and the one rule of what a
deliverable mail address is (`addresses.py`), which the catalogue's mailboxes share with
import, the outbox and the settings.
"""
