"""Tansu's memory over a compressed club day (FAULTS.md row 16): the whole pipeline, `runners`
phones at `rate` samples a second each, Tansu's RSS printed every `every` s and once the flood is
consumed (no recycle here: the numbers show how it grows).

    .venv/bin/python -m bench.tansu_rss --runners 50 --rate 20 --seconds 480
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.faults.fault_ledger import Ledger, Publisher, rss_kib
from tests.faults.pipeline import start_pipeline
from tests.integration.stack import ROSTER


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runners", type=int, default=50)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--every", type=float, default=15)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="tansu-rss-"))
    stack = start_pipeline(data_dir, ROSTER)
    try:
        ledger = Ledger("16", data_dir)
        publisher = Publisher(stack.mqtt_port, ledger, runners=args.runners, seconds=args.seconds, rate_hz=args.rate)
        started = time.monotonic()
        publisher.start()
        print(f"{'s':>6} {'samples':>9} {'tansu MiB':>10}", flush=True)
        while publisher.is_alive():
            time.sleep(args.every)
            rss = rss_kib(stack.running["kafka"].process.pid) / 1024
            print(f"{time.monotonic() - started:6.0f} {len(ledger.sent):9d} {rss:10.1f}", flush=True)
        publisher.finish()
        time.sleep(20)
        print(f"after the flood: tansu {rss_kib(stack.running['kafka'].process.pid) / 1024:.1f} MiB", flush=True)
    finally:
        stack.stop_all()


if __name__ == "__main__":
    main()
