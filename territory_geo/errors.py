"""Exceptions raised by territory_geo.

Every exception the library raises on purpose is a :class:`TerritoryError`, a ``ValueError`` subclass whose message
is written for the person who supplied the input: what was wrong, and how to fix it. The app and the CLI show
``str(error)``; anything else that escapes is a bug.
"""

from __future__ import annotations


class TerritoryError(ValueError):
    """Base class of every deliberate error in territory_geo."""


class InputFileError(TerritoryError):
    """A file cannot be read at all: empty, unknown format, undecodable, or missing required columns."""


class ValidationError(TerritoryError):
    """The data was read, but nothing usable is left after validation."""


class InfeasibleBalanceError(TerritoryError):
    """Territories cannot be balanced within the requested tolerance; the message gives the numbers."""


class DriveTimeUnavailableError(TerritoryError):
    """No road graph is available and the caller asked for graph-based drive times."""


class StoreError(TerritoryError):
    """The SQLite store cannot be opened, or a requested record does not exist."""


class ConfigError(TerritoryError):
    """The design config (its TOML file, or a command-line option) is invalid; the message lists every problem."""
