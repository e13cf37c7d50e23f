#!/bin/bash
# Runs once, on the first start of an empty InfluxDB volume (docker-entrypoint-initdb.d),
# after setup has created the org and bucket. Maps database/RP footpod/autogen to the
# bucket so InfluxQL (Grafana dashboards) works against it.
# The entrypoint exports DOCKER_INFLUXDB_INIT_* (incl. _BUCKET_ID) and points the
# influx CLI at the setup instance with the admin token.
set -euo pipefail

db="${DOCKER_INFLUXDB_INIT_BUCKET}"

# Idempotent, so a re-run of the setup never fails on an existing mapping.
if influx v1 dbrp list --org "${DOCKER_INFLUXDB_INIT_ORG}" --db "${db}" --hide-headers | grep -q .; then
    echo "dbrp for ${db} already exists"
    exit 0
fi

influx v1 dbrp create \
    --org "${DOCKER_INFLUXDB_INIT_ORG}" \
    --db "${db}" \
    --rp autogen \
    --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
    --default
