"""Persistence plumbing shared by the stores: engines, flows, migrations. No domain logic here."""

from corral.db._flows import UniqueViolation
from corral.db.base import CHANNELS, Database
from corral.db.query import Flow, Query, Row, all_rows, exec_, many, notify, one

__all__ = [
    "CHANNELS",
    "Database",
    "Flow",
    "Query",
    "Row",
    "UniqueViolation",
    "all_rows",
    "exec_",
    "many",
    "notify",
    "one",
]
