"""The stdlib-only agent the ``ssh`` driver copies to a board.

``measure.py`` runs there on Python 3.6+ (JetPack 4 ships 3.6) with the
board's ``tflite_runtime`` or ``ai_edge_litert`` and prints one JSON document
shaped like the local driver's. It stays importable on the host, where
``device_runner.drivers.jetson_power`` reuses its sysfs and ``tegrastats`` parsers.
"""
