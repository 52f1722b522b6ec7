"""Developer tools that drive corral from the outside (measurements, the SDK conformance runner); never imported
by ``corral`` itself."""
