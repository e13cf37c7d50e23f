"""The project's exceptions."""


class FootpodError(Exception):
    """Base of every error footpod-monitor raises on purpose."""


class RosterError(FootpodError):
    """The roster file cannot be read or is not valid."""


class ServerStartError(FootpodError):
    """A local server could not be started; the message says what to install or change."""


class StoreReadError(FootpodError):
    """The time-series store did not answer a read-back; never to be taken as an empty history."""
