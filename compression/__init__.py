"""Compresso's compression library: Keras 3 + TensorFlow + LiteRT, no Django.

Everything here can be used from a notebook: build or load a model, apply a
plan of techniques, export to ``.tflite`` and analyse the result.
"""
