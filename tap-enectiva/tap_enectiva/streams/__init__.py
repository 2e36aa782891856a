"""Streams by domain."""

from tap_enectiva.streams.data_points import DataPointsStream
from tap_enectiva.streams.deltas import (
    EntityDeltasStream,
    MeterDeltasStream,
    VirtualMeterDeltasStream,
)
from tap_enectiva.streams.entities import EntitiesStream
from tap_enectiva.streams.meters import MetersStream
from tap_enectiva.streams.readings import ReadingsStream

STREAM_TYPES = (
    MetersStream,
    ReadingsStream,
    MeterDeltasStream,
    EntitiesStream,
    EntityDeltasStream,
    DataPointsStream,
    VirtualMeterDeltasStream,
)

__all__ = [
    "STREAM_TYPES",
    "DataPointsStream",
    "EntitiesStream",
    "EntityDeltasStream",
    "MeterDeltasStream",
    "MetersStream",
    "ReadingsStream",
    "VirtualMeterDeltasStream",
]
