"""Fake platform servers on loopback, one module per source, used by the contract harnesses."""
