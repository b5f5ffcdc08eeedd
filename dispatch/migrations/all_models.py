"""Import every model module so ``Base.metadata`` knows the whole schema.

Beside the migrations, which compare against it, because it imports every stage: in
``db/`` it would make the lowest package depend on all the others.
"""

from dispatch.accounts import models as account_models
from dispatch.campaigns import models as campaign_models
from dispatch.creatives import models as creative_models
from dispatch.db.base import Base
from dispatch.members import models as member_models
from dispatch.register import models as register_models
from dispatch.reports import models as report_models

metadata = Base.metadata

__all__ = [
    "account_models",
    "campaign_models",
    "creative_models",
    "member_models",
    "metadata",
    "register_models",
    "report_models",
]
