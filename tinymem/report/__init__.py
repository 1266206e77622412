"""Turning results into JSON documents and rich terminal views."""
