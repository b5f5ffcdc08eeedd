"""Import every model module so ``Base.metadata`` knows the whole schema."""

from dispatch.campaigns import models as campaign_models
from dispatch.creatives import models as creative_models
from dispatch.db.base import Base
from dispatch.privacy import models as privacy_models
from dispatch.register import models as register_models

metadata = Base.metadata

__all__ = ["campaign_models", "creative_models", "metadata", "privacy_models", "register_models"]
