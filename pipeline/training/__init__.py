"""Training: the shared loop and runtime, and one module per trained network."""
