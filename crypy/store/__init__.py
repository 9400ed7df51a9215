"""The journal: every order, fill, decision and lifecycle event, kept in one SQLite (WAL) file.

One ``Journal`` task writes the file; any number of ``JournalReader``s may read it meanwhile.
"""

from .journal import Journal, JournalClosed
from .reader import JournalReader
from .schema import SCHEMA_VERSION, SchemaVersionError, migrate

__all__ = ["SCHEMA_VERSION", "Journal", "JournalClosed", "JournalReader", "SchemaVersionError", "migrate"]
