"""Simulated machines for tests and ``atelier demo``.

The serial ones (exported here): each opens ``os.openpty()``, puts the slave in raw mode and gives
its path (or a stable symlink to it) to the driver; a thread answers on the
master side. ``unplug()`` closes the pseudo-terminal as a pulled USB cable
would, and ``replug()`` opens a new one behind the same symlink. Each keeps
its own record of the cycles it made, for end-to-end checks.
"""

from atelier.simulators.device import PtyDevice
from atelier.simulators.grbl_pty import GrblSimulator
from atelier.simulators.haas_pty import HaasMachine, HaasPtySimulator, HaasTcpSimulator
from atelier.simulators.linebox_pty import LineboxSimulator

__all__ = ["GrblSimulator", "HaasMachine", "HaasPtySimulator", "HaasTcpSimulator", "LineboxSimulator", "PtyDevice"]
