"""The gateway's domain: credentials and tokens, plain Python, no I/O."""
