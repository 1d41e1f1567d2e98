"""`embedlite serve`: an OpenAI-compatible embeddings server with dynamic batching and vector stores behind it.

Needs embedlite[serve]. Entry point: embedlite.server.run.serve(ServeConfig); nothing else in embedlite imports
this package (the CLI command does, lazily).
"""
