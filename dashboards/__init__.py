"""Grafana dashboards for coaches, built as code.

`python -m dashboards.build` rewrites `dashboards/json/`, which Grafana loads through the file
provider in `dashboards/provisioning/`.
"""
