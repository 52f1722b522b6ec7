"""The HTTP surface (FastAPI) and the composition root.

``corral.api.app.create_app(settings)`` builds the application; ``corral.compose.services.open_services(settings)``
opens everything it runs on. (Nothing is imported here, so that light commands such as ``corral keys create``
do not pay for FastAPI and the SDK's models.)
"""
