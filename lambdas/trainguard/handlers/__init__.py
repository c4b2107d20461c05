"""Thin Lambda entry points: parse the event, call the logic, emit metrics, return."""

from .runtime import get_dependencies, reset_dependencies

__all__ = ["get_dependencies", "reset_dependencies"]
