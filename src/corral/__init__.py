"""corral: a self-hostable runtime for long-running AI agents that speaks the Claude Managed Agents API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("corral")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = ["__version__"]
