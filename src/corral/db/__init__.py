"""Persistence plumbing shared by the stores: engines, flows, migrations. No domain logic here."""

from corral.db._flows import UniqueViolation
from corral.db.base import CHANNELS, Database
from corral.db.query import Flow, Query, Row, Value, all_rows, dialect, exec_, insert, insert_sql, many, notify, one
from corral.db.where import Where, split_page

__all__ = [
    "CHANNELS",
    "Database",
    "Flow",
    "Query",
    "Row",
    "UniqueViolation",
    "Value",
    "Where",
    "all_rows",
    "dialect",
    "exec_",
    "insert",
    "insert_sql",
    "many",
    "notify",
    "one",
    "split_page",
]
