"""Analyses: each consumes the packet stream once and fills one part of the report model."""
