"""The channel-dependency graph of a Keras model and the surgery that follows it.

``ChannelGraph(model)`` finds which layers' channel axes must change together
(``Group``); ``narrow(graph, removed)`` removes channel classes from every
layer that makes, normalizes or reads them. Every technique that changes a
layer's width (Ps, C2, L1, L2, KD) goes through these two.
"""

from compression.graph.build import ChannelGraph, Group
from compression.graph.narrow import Builder, Slices, narrow, shrink, slices_for

__all__ = ["Builder", "ChannelGraph", "Group", "Slices", "narrow", "shrink", "slices_for"]
