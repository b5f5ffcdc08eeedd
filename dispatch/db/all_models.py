"""Import every model module so ``Base.metadata`` knows the whole schema."""

from dispatch.creatives import models as creative_models
from dispatch.db.base import Base
from dispatch.privacy import models as privacy_models
from dispatch.register import models as register_models

metadata = Base.metadata

__all__ = ["creative_models", "metadata", "privacy_models", "register_models"]
