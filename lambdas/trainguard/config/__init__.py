"""Configuration: one schema engine and everything declared with it.

* :mod:`.schema`: the engine (``setting()``, ``check``, ``walk``, ``parse``);
* :mod:`.policy`: the declarations (the policy and its rule sections);
* :mod:`.tags`: a job's ``trainguard:*`` tags;
* :mod:`.settings`: a job's resolved settings and the rules built from them;
* :mod:`.controls`: the runtime controls' values (pause, mode);
* :mod:`.resolve`: the one precedence chain (:func:`resolve_settings`);
* :mod:`.env`: the functions' environment.

Every handler imports this package: it stays free of boto3 and Powertools.
"""

from .controls import Control, Controls, ControlsError, parse_control, parse_controls
from .env import Environment, RetryConfigError, parse_role_arns
from .policy import (
    MODES,
    SECTIONS,
    STEP_UNITS,
    CatchUpSettings,
    CoverageSettings,
    DivergenceSettings,
    GpuIdleSettings,
    HangSettings,
    MedianSettings,
    Mode,
    PatienceSettings,
    Policy,
    RuntimeSettings,
    StepUnit,
    StragglerSettings,
    ThroughputSettings,
)
from .resolve import resolve_policy, resolve_settings, settings_for
from .schema import PolicyError, Setting, check, setting, walk
from .settings import Hold, JobSettings, gpu_idle_rule
from .tags import (
    TAG_OVERRIDES,
    TagProblem,
    is_opted_in,
    is_protected,
    job_settings,
    normalize_tags,
    tag_problems,
)

__all__ = [
    "MODES",
    "SECTIONS",
    "STEP_UNITS",
    "TAG_OVERRIDES",
    "CatchUpSettings",
    "Control",
    "Controls",
    "ControlsError",
    "CoverageSettings",
    "DivergenceSettings",
    "Environment",
    "GpuIdleSettings",
    "HangSettings",
    "Hold",
    "JobSettings",
    "MedianSettings",
    "Mode",
    "PatienceSettings",
    "Policy",
    "PolicyError",
    "RetryConfigError",
    "RuntimeSettings",
    "Setting",
    "StepUnit",
    "StragglerSettings",
    "TagProblem",
    "ThroughputSettings",
    "check",
    "gpu_idle_rule",
    "is_opted_in",
    "is_protected",
    "job_settings",
    "normalize_tags",
    "parse_control",
    "parse_controls",
    "parse_role_arns",
    "resolve_policy",
    "resolve_settings",
    "setting",
    "settings_for",
    "tag_problems",
    "walk",
]
