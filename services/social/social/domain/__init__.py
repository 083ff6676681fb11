"""The social department's domain: plain Python, no I/O."""
