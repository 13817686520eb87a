"""The HTTP and websocket boundary: one router per resource (``routes/``), the
dependencies every handler states in its signature (``deps``), and the one
place where errors become responses (``errors``)."""
