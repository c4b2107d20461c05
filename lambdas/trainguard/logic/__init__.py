"""The control plane's logic: takes adapters (through :class:`Dependencies`) and models,
returns results. No environment reads here; the handlers build the dependencies."""

from .dependencies import Dependencies

__all__ = ["Dependencies"]
