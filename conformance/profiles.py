"""Hypothesis profiles for the conformance clauses: ``ci`` (default), ``dev``, ``thorough``.

``ci`` is derandomized (the same examples on every run, so a result is reproducible from the command line
alone), bounded and without a deadline (a slow port is judged by the clause timeout, not by hypothesis).
``dev`` draws new random examples each run; ``thorough`` draws many more. All print the
``@reproduce_failure`` blob of a failing example. Selected with ``--bert-profile`` or ``HYPOTHESIS_PROFILE``;
loaded when the clause conftest loads (before the clause modules are imported: ``@given`` reads its settings
at decoration time) and restored at the end of the run.
"""

from __future__ import annotations

import os

# ``ci`` stops at the first failing example: no shrinking (a failing known-bad port took minutes to shrink)
# and no "explain" phase (it traces every line with sys.settrace). The failing example is printed as found;
# ``dev`` and ``thorough`` shrink it to a minimal one.
CI_PHASES = ("explicit", "reuse", "generate")

PROFILES: dict[str, dict] = {
    "ci": {"derandomize": True, "max_examples": 10, "database": None, "phases": CI_PHASES},
    "dev": {"max_examples": 30},
    "thorough": {"max_examples": 300},
}
DEFAULT = "ci"


def register() -> None:
    from hypothesis import HealthCheck, Phase, settings  # lazy: only runs with clauses import hypothesis

    common = {"deadline": None, "print_blob": True, "suppress_health_check": [HealthCheck.too_slow]}
    # Explicit parent: without one, hypothesis derives a new profile from the profile loaded *now*, so a
    # second in-process run (registering again with ``ci`` loaded) would give ``dev`` ci's phases.
    base = settings.get_profile("default")
    for name, values in PROFILES.items():
        if "phases" in values:
            values = {**values, "phases": [Phase[p] if isinstance(p, str) else p for p in values["phases"]]}
        settings.register_profile(name, base, **common, **values)


def choose(option: str | None) -> str:
    """``--bert-profile``, else ``HYPOTHESIS_PROFILE`` when it names one of ours, else the default."""
    if option:
        return option
    from_env = os.environ.get("HYPOTHESIS_PROFILE", "")
    return from_env if from_env in PROFILES else DEFAULT


def current() -> str:
    from hypothesis import settings

    getter = getattr(settings, "get_current_profile_name", None)  # older hypothesis keeps it private
    return getter() if getter else settings._current_profile


def load(name: str) -> None:
    from hypothesis import settings

    settings.load_profile(name)
