"""Calendar providers behind the Protocol in calsync.sync.provider, one module or package each."""
