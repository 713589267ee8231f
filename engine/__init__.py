"""Seat-inventory domain: pure, no I/O, no clock, no Ray, no protobuf."""
