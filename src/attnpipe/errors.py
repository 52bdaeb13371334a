"""The one error type for bad input found before any job runs: str(err) is the one line to show, naming the
config key or file and what was expected. Each checker raises its own subclass (the config file, its
structure, a model folder, a matrix spec), so the workflow catches one type and every message passes as is."""


class ConfigError(ValueError):
    """Bad input; str(err) is the one line to show."""
