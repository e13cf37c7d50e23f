"""The BLE seam: the real radio wraps bleak's own classes; the fake one answers the same calls."""

import inspect
import time

from rich.console import Console

from ingest.gateway.ble import BleakLink, BleakRadio, PodLink, Radio
from ingest.gateway.clock import ScaledClock
from ingest.gateway.fake import FakeLink, FakeRadio, simulated_pods
from ingest.gateway.gateway import Gateway, Publisher
from ingest.gateway.queue import Outbox
from ingest.gateway.samples import PodConfig
from tests.unit.ingest.gateway_fakes import FakeMqtt


def members(protocol) -> set[str]:
    return {name for name in vars(protocol) if not name.startswith("_")} - {"address"}


def test_the_real_and_the_fake_radio_offer_the_seams_calls_with_the_same_signatures():
    for real, fake, protocol in ((BleakRadio, FakeRadio, Radio), (BleakLink, FakeLink, PodLink)):
        for name in members(protocol):
            wanted = list(inspect.signature(getattr(protocol, name)).parameters)
            assert list(inspect.signature(getattr(real, name)).parameters) == wanted, (real, name)
            assert list(inspect.signature(getattr(fake, name)).parameters) == wanted, (fake, name)


def test_the_real_radio_builds_a_bleak_client_for_an_address_without_touching_the_radio():
    link = BleakRadio().link("C4:7A:0B:11:22:33", lambda: None)

    from bleak import BleakClient

    assert isinstance(link._client, BleakClient)
    assert link.address == "C4:7A:0B:11:22:33"


def test_the_status_table_has_a_line_per_pod_with_runner_and_queued_samples(tmp_path):
    now = int(time.time() * 1000)
    fakes = simulated_pods(2, epoch_ms=now)
    clock = ScaledClock(now, now, 1.0)
    outbox = Outbox(tmp_path / "outbox.db")
    gateway = Gateway(
        FakeRadio(fakes, clock),
        outbox,
        Publisher(outbox, FakeMqtt()),
        {f.address: PodConfig(f.address, f"runner{i}") for i, f in enumerate(fakes)},
        clock,
    )
    gateway.on_value(fakes[0].address, fakes[0].value_at(now))
    gateway.tick(now + 1000)

    console = Console(record=True, width=200)
    console.print(gateway.status_table())
    text = console.export_text()
    assert "broker out of reach, 1 queued" in text
    rows = [[cell.strip() for cell in line.strip("│ ").split("│")] for line in text.splitlines() if "F0:0D" in line]
    assert [(row[1], row[2], row[3], row[-1]) for row in rows] == [
        ("runner0", "not connected", f"{2 * fakes[0].value_at(now)[3]} spm", "1"),
        ("runner1", "not connected", "-", "0"),
    ]
