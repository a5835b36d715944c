"""Synthetic Dezhou market entities and the deliveries departments send about them.

``generate`` writes every feed's landing files and the ground truth that tests score against.
"""

from panorama_dev.synth.deliveries import EXCHANGE_JSONL
from panorama_dev.synth.generate import generate

__all__ = ["EXCHANGE_JSONL", "generate"]
