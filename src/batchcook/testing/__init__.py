"""Emulators of the OpenAI and Notion APIs, shipped so users can test their own integrations.

Each is an ASGI app driven over real loopback HTTP by the official clients (see
``batchcook.testing.server.serve``).
"""
