"""What the local stack says when a server cannot start (no server is started here)."""

import pytest

from footpod.errors import ServerStartError
from monitor.servers import find_binary


def test_a_missing_binary_names_what_to_install():
    with pytest.raises(ServerStartError, match="footpod-no-such-server is not installed: apt-get install it"):
        find_binary("footpod-no-such-server", "apt-get install it")
