"""The employment domain: plain Python, no I/O, no frameworks."""
