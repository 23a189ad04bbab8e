"""What a trained policy is worth: evaluation with the competition's score."""
