"""Signatures and band keys are stored and compared across runs and versions: the batch path
(numpy MinHash, vectorised CRC-32 band keys) must give exactly what the one-post path gives
(datasketch's MinHash, zlib's crc32), for any brand and any bands x rows, and the values a
version of Earshot stored must still be what today's code computes."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.noise.duplicates import band_keys, fingerprint, fingerprints
from monitor.noise.settings import NoiseConfig

TEXTS = [
    "@BrisaMobile charged me twice this month and support hung up on me three times. Never again.",
    "Telefónica me cobró dos veces la factura y nadie contesta #fail",
    "Tagihan Brisa naik dua kali lipat bulan ini, CS tidak bisa dihubungi sama sekali 😡",
    "short", "", "RT @x: https://t.co/a", "a" * 400, "😀 " * 30,
]
BRANDS = ["Brisa", "Telefónica", "", "Brisa Mobile"]


@pytest.mark.parametrize("cfg", [NoiseConfig(), NoiseConfig(bands=7, rows=3), NoiseConfig(bands=64, rows=1),
                                 NoiseConfig(bands=2, rows=16, shingle_chars=3, min_chars=1)],
                         ids=["16x4", "7x3", "64x1", "2x16"])
def test_a_batch_signs_and_bands_each_post_as_one_post_alone(cfg):
    items = [(text, brand) for text in TEXTS for brand in BRANDS]
    batch = fingerprints(items, cfg)
    assert len(batch) == len(items)
    for (text, brand), got in zip(items, batch, strict=True):
        alone = fingerprint(text, brand, cfg)
        assert got.text == alone.text
        assert np.array_equal(got.signature, alone.signature) and got.signature.dtype == np.uint32
        assert got.bands == alone.bands
        if got.comparable:
            assert got.bands == band_keys(got.signature, brand, cfg) and len(got.bands) == cfg.bands


def test_a_batch_larger_than_one_numpy_step_is_signed_like_small_ones():
    items = [(f"{TEXTS[0]} number {i} of many", "Brisa") for i in range(600)]
    big = fingerprints(items, NoiseConfig())
    assert all(np.array_equal(a.signature, b.signature) and a.bands == b.bands
               for a, b in zip(big, (fingerprints([item], NoiseConfig())[0] for item in items), strict=True))


def test_the_values_stored_by_earlier_versions_are_still_computed():
    """Written down from the version that first stored signatures: a change here orphans every
    stored band key (copies would stop finding their first posts) and needs a migration."""
    complaint, spanish = fingerprints([(TEXTS[0], "Brisa"), (TEXTS[1], "Telefónica")], NoiseConfig())
    assert complaint.bands[:4] == ("00780dc744", "01595734f9", "02d06c0f1d", "032a6c9c1c")
    assert complaint.signature[:4].tolist() == [119874279, 27233214, 2134441, 68019280]
    assert spanish.text == "telefonica me cobro dos veces la factura y nadie contesta fail"
    assert spanish.bands[:4] == ("001319947a", "018caa563c", "026038febd", "0386d35be9")
    assert spanish.signature[:4].tolist() == [73561727, 93221667, 78893008, 41832298]
