"""Quality scorers against the synthetic ground truth: entity resolution and grading."""
