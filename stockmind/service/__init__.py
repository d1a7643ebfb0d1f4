"""The search service: HTTP API, API keys, the web page, and its Ray Serve deployment."""
