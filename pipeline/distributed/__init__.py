"""Running a stage on several processes: where each process stands, and sharded outputs."""
