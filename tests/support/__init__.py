"""Helpers for the cross-service and real-infrastructure tests."""
