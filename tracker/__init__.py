"""tracker: which of several futures is the world drifting toward, with evidence."""

__version__ = "0.1.0"
