"""Partner creatives: bundles, their validation, the template sandbox, approval.

A partner's creative arrives as a bundle (a folder or a .zip: ``creative.yaml``,
templates, ``assets/``). It is read safely (:mod:`.archive`), validated completely
(:mod:`.validation`), stored as an immutable, hashed version (:mod:`.models`,
:mod:`.services`) and approved or rejected by staff. Templates only ever render in
the sandbox (:mod:`.sandbox`), with the small context of :mod:`.context`.
See docs/creatives.md for the partner-facing description.
"""
