"""The service's routes, one module per concern: search, embeddings, health, the web page."""
