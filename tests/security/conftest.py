"""Security tests (issue 15): one module per area, each test named after the finding it closes.
The console's staff accounts come from the console's fixtures."""
from tests.console.conftest import operator, staff  # noqa: F401  (fixtures)
