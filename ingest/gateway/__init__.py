"""The footpod gateway: BLE Running Speed and Cadence pods to `footpod/{runner}/samples` over MQTT.

`rsc` decodes the measurement, `distance` keeps each pod's cumulative distance, `queue` is the
on-disk outbox, `ble` is the one seam to the radio (bleak), `fake` the simulated pods, `gateway`
ties them together. Only `ble.BleakRadio` needs the optional `bleak` package.
"""
