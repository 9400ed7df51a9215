"""A Kraken-compatible face for the simulator: REST (hypercorn) and WebSocket v2 (trio-websocket) servers.

The unmodified ccxt Kraken client trades against it by URL override. Kraken's names, formats, envelopes
and error strings live here; the exchange itself (matching, accounts, replay) stays in ``crypy.simulator``.
"""
