"""Real components for tests: synthesized clips (`clips`) and an RTSP camera (`rtsp`).

Use the fixtures from a test module with `pytest_plugins = ["tests.support.clips", "tests.support.rtsp"]`
(or from the root conftest the same way).
"""

import pytest

pytest.register_assert_rewrite("tests.support.clips", "tests.support.rtsp")
