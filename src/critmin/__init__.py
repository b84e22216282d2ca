"""critmin: supply risk, market shocks, export oversight and producer credit for critical minerals."""

__version__ = "0.1.0"

from critmin.errors import CritminError, DataFileError, UnknownNameError, WarehouseError  # noqa: E402

__all__ = ["CritminError", "DataFileError", "UnknownNameError", "WarehouseError", "__version__"]
