"""The HTTP surface (FastAPI) and the composition root (``services``).

``create_app(settings)`` builds the application; ``open_services(settings)`` opens everything it runs on.
"""

from corral.api.app import create_app
from corral.api.services import Services, open_services

__all__ = ["Services", "create_app", "open_services"]
