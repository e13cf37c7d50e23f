#!/bin/bash
# Runs once, on the first start of an empty InfluxDB volume (docker-entrypoint-initdb.d), after
# setup. One least-privilege token per use, each written to the volume only its users mount:
#   /run/footpod-tokens/write/token  bridge, stream, alerts: read and write the footpod bucket
#   /run/footpod-tokens/read/token   Grafana: read the footpod bucket, nothing else
# The admin token (secrets/influx_admin_token) stays with the operator.
set -euo pipefail

create() {  # create DIR DESCRIPTION PERMISSION-FLAGS...
    local dir="$1" description="$2"
    shift 2
    if [ -s "${dir}/token" ]; then
        echo "${dir}/token exists; not creating another"
        return
    fi
    influx auth create --org "${DOCKER_INFLUXDB_INIT_ORG}" --description "${description}" "$@" --json \
        | sed -n 's/^ *"token": *"\([^"]*\)".*/\1/p' > "${dir}/token.new"
    [ -s "${dir}/token.new" ] || { echo "no token in the answer of influx auth create" >&2; exit 1; }
    chmod 0444 "${dir}/token.new"
    mv "${dir}/token.new" "${dir}/token"
    echo "created ${description}"
}

bucket="${DOCKER_INFLUXDB_INIT_BUCKET_ID}"
create /run/footpod-tokens/write "footpod workers: read and write the footpod bucket" \
    --read-bucket "${bucket}" --write-bucket "${bucket}"
create /run/footpod-tokens/read "footpod Grafana: read the footpod bucket" \
    --read-bucket "${bucket}"
