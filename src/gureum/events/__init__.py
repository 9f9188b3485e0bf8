"""Schedules and events that invoke functions."""
