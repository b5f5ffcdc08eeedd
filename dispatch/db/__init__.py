"""Database access: declarative base, shared column types, engines and migrations."""

from dispatch.db.base import Base
from dispatch.db.engine import make_engine, session_scope

__all__ = ["Base", "make_engine", "session_scope"]
