"""The lab programs (standard library only) and the lab topology runner."""
