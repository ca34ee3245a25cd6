"""Consumers of a stream: the fan-out to live viewers and the viewer WebSocket."""
