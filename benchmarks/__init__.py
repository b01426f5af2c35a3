"""Measurements of Earshot's detectors on simulated data with known ground truth."""
