"""What every test shares: Hypothesis without its timing checks.

Hypothesis fails an example that takes over 200 ms, and a test whose inputs are slow to draw. Those
are speed assertions, and speed is the benchmarks' to show (README "Speed"): on a loaded CI machine
they failed property tests whose logic was right (a first example importing a library, a draw
waiting for the CPU)."""

from hypothesis import HealthCheck, settings

settings.register_profile("footpod", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("footpod")
