# One image for the bridge, stream and alerts workers; compose picks the subcommand.
FROM python:3.11.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Only what the package build needs, so .venv and tests stay out of the image.
COPY pyproject.toml README.md* ./
COPY footpod ./footpod
COPY ingest ./ingest
COPY streams ./streams
COPY alerts ./alerts
COPY dashboards ./dashboards
RUN pip install . && rm -rf /src

# Unprivileged, with a writable working directory: the stream worker keeps its
# local table state here (mounted as a volume in compose).
RUN useradd --system --create-home --home-dir /var/lib/footpod footpod
USER footpod
WORKDIR /var/lib/footpod

ENTRYPOINT ["footpod-monitor"]
