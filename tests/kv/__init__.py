"""Contract, multi-process and benchmark tests of the TTL key-value store (`stitcher.kv`)."""
