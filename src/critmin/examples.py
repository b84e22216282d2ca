"""Where the example scenario and company files are: inside the installed package (a wheel
carries `examples/` as `critmin/_examples`, see pyproject.toml), else the checkout's
`examples/` folder next to `src/`."""

from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).resolve().parent / "_examples"
_CHECKOUT = Path(__file__).resolve().parents[2] / "examples"


def examples_dir() -> Path:
    """The examples folder (holding `scenarios/` and `companies/`)."""
    return _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT


def example_files(folder: str) -> list[Path]:
    """The YAML files of examples/`folder` ('scenarios' or 'companies'), sorted."""
    d = examples_dir() / folder
    return sorted(d.glob("*.yaml")) if d.is_dir() else []
