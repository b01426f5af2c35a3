"""Measurements of Earshot on real data: detectors (spread, storms) and sentiment throughput."""
