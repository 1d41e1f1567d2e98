"""The files embedlite reads and writes: corpus records and texts (records), vector files of id, vector and text
(vectors), the vectors' byte encodings (codec), an output file's lock (lock), and the locked staging
folder an output is built in before it moves into place (staging)."""
