"""Extensions in the harness: the points (``points``, published as ``corral.extend``), corral's own defaults
(``defaults``), what an agent selected (``selection``), loading them off the event loop (``host``), calling them
guarded (``loaded``), and a server-side tool as a journalled executor (``tools``)."""

from corral.harness.extensions.host import ExtensionHost
from corral.harness.extensions.loaded import Extensions
from corral.harness.extensions.selection import ExtensionFailed, Selection

__all__ = ["ExtensionFailed", "ExtensionHost", "Extensions", "Selection"]
