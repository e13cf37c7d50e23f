"""The gateway's one seam to Bluetooth: a scanner and a per-pod link, real (bleak) or fake.

Everything BLE the gateway does goes through `Radio`: scan for pods advertising the Running Speed
and Cadence service, and open a `PodLink` to one address that delivers RSC Measurement bytes.
`BleakRadio` implements it with bleak (the optional `gateway` extra), imported only when used;
`ingest.gateway.fake.FakeRadio` implements it with simulated pods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from footpod.errors import FootpodError
from ingest.gateway.rsc import RSC_MEASUREMENT_UUID, RSC_SERVICE_UUID

OnValue = Callable[[bytes], None]


@dataclass(frozen=True)
class Advert:
    """A pod seen advertising the RSC service, with its signal strength (dBm)."""

    address: str
    name: str | None
    rssi: int | None


class PodLink(Protocol):
    """A connection to one pod; `on_lost` (given to `Radio.link`) is called when it drops."""

    address: str

    async def connect(self) -> None: ...

    async def subscribe(self, on_value: OnValue) -> None: ...

    async def disconnect(self) -> None: ...


class Radio(Protocol):
    async def scan(self, timeout_s: float) -> list[Advert]: ...

    def link(self, address: str, on_lost: Callable[[], None]) -> PodLink: ...


class BleakRadio:
    """The real radio: bleak's `BleakScanner` and `BleakClient` (BlueZ on Linux)."""

    def __init__(self, connect_timeout_s: float = 20.0):
        try:
            import bleak  # noqa: F401
        except ImportError as error:
            raise FootpodError("the gateway needs bleak: pip install 'footpod-monitor[gateway]'") from error
        self.connect_timeout_s = connect_timeout_s
        self._seen: dict[str, Any] = {}  # address -> BLEDevice from the last scans

    async def scan(self, timeout_s: float) -> list[Advert]:
        from bleak import BleakScanner

        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True, service_uuids=[RSC_SERVICE_UUID])
        adverts = []
        for device, advertisement in found.values():
            self._seen[device.address.upper()] = device
            adverts.append(Advert(device.address.upper(), device.name or advertisement.local_name, advertisement.rssi))
        return adverts

    def link(self, address: str, on_lost: Callable[[], None]) -> PodLink:
        return BleakLink(self._seen.get(address.upper(), address), address, on_lost, self.connect_timeout_s)


class BleakLink:
    """One pod over bleak: connect, notifications of RSC Measurement, disconnect."""

    def __init__(self, device: Any, address: str, on_lost: Callable[[], None], timeout_s: float):
        from bleak import BleakClient

        self.address = address
        self._client = BleakClient(device, disconnected_callback=lambda _client: on_lost(), timeout=timeout_s)

    async def connect(self) -> None:
        await self._client.connect()

    async def subscribe(self, on_value: OnValue) -> None:
        await self._client.start_notify(RSC_MEASUREMENT_UUID, lambda _char, data: on_value(bytes(data)))

    async def disconnect(self) -> None:
        await self._client.disconnect()
