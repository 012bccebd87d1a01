"""Windows backend: the host, the service wrapper, removable-media control and the registry readers (Windows only)."""
