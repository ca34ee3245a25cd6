"""The HTTP server: pages, status, metrics, API and the HTTP stream URLs."""
