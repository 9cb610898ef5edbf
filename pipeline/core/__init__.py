"""What every stage shares and nothing heavy: parameters, the error type, label conventions."""
