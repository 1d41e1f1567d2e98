"""Adapters for the frameworks people already use, each an optional extra:

- embedlite.integrations.langchain.EmbedliteEmbeddings (pip install 'embedlite[langchain]')
- embedlite.integrations.llamaindex.EmbedliteEmbedding (pip install 'embedlite[llamaindex]')

Both embed in process with an Embedder: documents with the model's document prompt, queries with its query prompt.
"""
