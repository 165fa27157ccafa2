"""Protocol-faithful stand-ins for hosted calendar services (tests, benchmarks, offline work)."""
