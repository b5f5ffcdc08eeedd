"""Import every model module so ``Base.metadata`` knows the whole schema."""

from dispatch.db.base import Base
from dispatch.privacy import models as privacy_models
from dispatch.register import models as register_models

metadata = Base.metadata

__all__ = ["metadata", "privacy_models", "register_models"]
