"""Routing a situation: evaluate its pack on the engine, resolve the hit policy, build the Decision."""
