"""The files embedlite reads and writes: corpus records and texts (records), vector files of id, vector and text
(vectors), the vectors' byte encodings (codec), and an output file's lock (lock)."""
