"""Jobs that drive the SDK over whole files: embed_file (one process, resumable) and distributed (Ray)."""
