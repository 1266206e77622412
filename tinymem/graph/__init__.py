"""The graph IR the reader builds and every later stage works on."""
