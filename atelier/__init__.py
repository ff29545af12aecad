"""Atelier: command line, demo orchestration and the pieces both daemons share."""

__version__ = "0.1.0"
