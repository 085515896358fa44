"""Remotes: where the store's objects are pushed to and fetched from.

``base`` is the backend protocol, ``local`` a directory, ``s3`` S3-compatible object
storage, ``config`` the ``remote.<name>.*`` settings, ``transfer`` the engine.
"""
