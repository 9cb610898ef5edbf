"""Files the stages exchange, each written atomically: JSON/CSV, label PNGs, HDF5 maps, checkpoints."""
