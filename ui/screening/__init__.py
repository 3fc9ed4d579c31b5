"""審査・採点: the round, my queue and scoring, results, weight sensitivity, settings."""
