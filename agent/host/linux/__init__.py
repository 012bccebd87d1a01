"""Linux backend: the host, removable-media control and the readers behind the posture checks (Linux only)."""
