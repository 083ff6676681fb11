"""Samspil: the common runtime (``samspil.runtime``), the local all-in-one runner
(``samspil.local``) and the ``samspil`` command line."""
