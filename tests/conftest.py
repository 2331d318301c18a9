"""Root fixtures. Each area keeps its own fixtures in tests/fixtures/<area>.py, loaded here as plugins."""

pytest_plugins = [
    "tests.fixtures.aws",
    "tests.fixtures.simulator",
    "tests.fixtures.ingest",
    "tests.fixtures.drain",
    "tests.fixtures.local",
    "tests.fixtures.replay",
    "tests.fixtures.security",
    "tests.fixtures.chaos",
    "tests.fixtures.console",
]
