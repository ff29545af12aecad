"""The system as separate real processes, for the end-to-end tests (``tests/``) and the benchmarks (``bench/``).

Both import it; neither imports the other. It imports the product (``atelier`` and below) and never
``tests`` or ``bench``. Run from the repository root: it is not installed with the product.
"""

from harness.chain import AGENT, SITE, Chain, Daemon, edge_toml, gateway_toml, sim_options, toml_value
from harness.probes import health, publish_once, wait_for_bridges, wait_until

__all__ = [
    "AGENT",
    "SITE",
    "Chain",
    "Daemon",
    "edge_toml",
    "gateway_toml",
    "health",
    "publish_once",
    "sim_options",
    "toml_value",
    "wait_for_bridges",
    "wait_until",
]
