"""VectorStore: a local, crash-safe vector store in one SQLite file, with filters and hybrid search.

vector_store: the store (opening, writing, searching); matrix: every vector in memory for exact search, kept up
to date from the change log; index: the HNSW index for large stores; filters: metadata filters as SQL;
parquet_import: the resumable bulk load of embed-file's output.
"""

from .vector_store import MAX_KEYWORD_CHARS, MAX_KEYWORD_TERMS, Record, SearchResult, VectorStore

__all__ = ["MAX_KEYWORD_CHARS", "MAX_KEYWORD_TERMS", "Record", "SearchResult", "VectorStore"]
