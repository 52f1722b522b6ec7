"""The PostgreSQL engine on asyncpg: ``database.PostgresDatabase`` (its invariants are in that module's
docstring), the flow driver (``flows``), the supervised LISTEN connection (``listener``), how it closes
(``gate``) and asyncpg's typed face (``driver``)."""

from corral.db.postgres.database import PostgresDatabase

__all__ = ["PostgresDatabase"]
