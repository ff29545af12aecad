"""Atelier's top: the command line, the demo, installation and the simulators; nothing below imports it."""

from plumbing import __version__

__all__ = ["__version__"]
