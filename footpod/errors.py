"""The project's exceptions. `exit_status` is what `footpod-monitor` exits with when one ends a
command: 2 for a usage or configuration error (the command, a setting or a file must change),
1 for a runtime error (a server did not answer, a target failed)."""


class FootpodError(Exception):
    """Base of every error footpod-monitor raises on purpose."""

    exit_status = 1


class UsageError(FootpodError):
    """The command line, a setting or a configuration file is wrong; the message says which."""

    exit_status = 2


class ConfigError(UsageError):
    """A FOOTPOD_* setting (or the file a FOOTPOD_*_FILE names) is not valid."""


class RosterError(UsageError):
    """The roster file cannot be read or is not valid."""


class ServerStartError(UsageError):
    """A local server could not be started; the message says what to install or change."""


class StoreReadError(FootpodError):
    """The time-series store did not answer a read-back; never to be taken as an empty history."""


class StoreWriteError(FootpodError):
    """The time-series store did not take a write or a delete."""
